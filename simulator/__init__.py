"""Transaction simulator: the history generator and (later) the live stream simulator.

`python -m simulator generate ...` writes a card-transaction history with injected fraud
chains (simulator/generate.py); `python -m simulator --help` lists every subcommand.
In process: `simulator.generate.generate(...) -> pyarrow.Table` and `simulator.generate.write`.
"""
