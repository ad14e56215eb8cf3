# The streaming path on the local profile: the demo and the replay parity check (issue 4).
.PHONY: demo-pipeline replay

demo-pipeline: venv ## Stream a fraud attack through the local pipeline: live predictions + summary
	$(PY) -m profiles.demo --data $(DATA)/demo --cards $(DEMO_CARDS) --transactions $(DEMO_TRANSACTIONS)

replay: venv ## Replay the test period through the local pipeline; parity report in $(DATA)/replay/REPORT.md
	$(PY) -m profiles.replay --data $(DATA)/replay --cards $(DEMO_CARDS) --transactions $(DEMO_TRANSACTIONS)
