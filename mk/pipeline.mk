# The streaming path on the local profile: the demo, the replay parity check (issue 4) and the
# consistency job (issue 17).
.PHONY: demo-pipeline replay consistency

# `make replay HISTORY=path`: your own history (Parquet, or the seed's CSV layout in any row order)
# instead of a generated one; its last TEST_DAYS days are replayed.
HISTORY ?=
TEST_DAYS ?= 7
# `make consistency`: by default the last replay's predictions, batch features and model.
PREDICTIONS ?= $(DATA)/replay/predictions.ndjson
FEATURES ?= $(DATA)/replay/features
MODEL ?= $(DATA)/replay/model/model.tar.gz
CONSISTENCY_OUT ?= $(DATA)/consistency
MAX_UNEXPLAINED ?= 0.001

demo-pipeline: venv ## Stream a fraud attack through the local pipeline: live predictions + summary
	$(PY) -m profiles.demo --data $(DATA)/demo --cards $(DEMO_CARDS) --transactions $(DEMO_TRANSACTIONS)

replay: venv ## Replay a test period through the local pipeline (HISTORY=path: yours); consistency report in $(DATA)/replay/
	$(PY) -m profiles.replay --data $(DATA)/replay $(if $(HISTORY),--history $(HISTORY) --test-days $(TEST_DAYS),--cards $(DEMO_CARDS) --transactions $(DEMO_TRANSACTIONS))

consistency: venv ## Served features vs the batch job's (PREDICTIONS= FEATURES= MODEL=); report in $(CONSISTENCY_OUT)/
	$(PY) -m jobs.consistency --predictions $(PREDICTIONS) --features $(FEATURES) --model $(MODEL) --out $(CONSISTENCY_OUT) --max-unexplained $(MAX_UNEXPLAINED) --engine $(ENGINE)
