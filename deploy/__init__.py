"""The deploy flow: one sequence of steps for any Terraform root (terraform/envs/aws, terraform/envs/local).

package -> apply -> load -> smoke -> destroy, plus outputs. `python -m deploy <step> --root ROOT`;
mk/deploy.mk's targets are thin wrappers. Each step is a function of its inputs in its own module
(artifacts, terraform, load, smoke); __main__ only parses arguments and prints.
"""
