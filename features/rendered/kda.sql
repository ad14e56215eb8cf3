-- Rendered from features/definition.py by features/kda_sql.py: do not edit.
-- Kinesis Data Analytics (SQL): per-card sliding windows over ROWTIME, one output row per input row.
CREATE OR REPLACE STREAM "DESTINATION_SQL_STREAM" (
    "tid" VARCHAR(64),
    "trans_ts" VARCHAR(32),
    "cc_num" BIGINT,
    "amount" DOUBLE,
    "num_trans_last_10m" BIGINT,
    "avg_amt_last_10m" DOUBLE,
    "num_trans_last_1m" BIGINT,
    "num_trans_last_2m" BIGINT,
    "num_trans_last_5m" BIGINT
);

CREATE OR REPLACE PUMP "AGGREGATE_PUMP" AS
  INSERT INTO "DESTINATION_SQL_STREAM"
  SELECT STREAM
    "tid",
    "trans_ts",
    "cc_num",
    "amount",
    COUNT(*) OVER W_10M AS "num_trans_last_10m",
    AVG("amount") OVER W_10M AS "avg_amt_last_10m",
    COUNT(*) OVER W_1M AS "num_trans_last_1m",
    COUNT(*) OVER W_2M AS "num_trans_last_2m",
    COUNT(*) OVER W_5M AS "num_trans_last_5m"
  FROM "SOURCE_SQL_STREAM_001"
  WINDOW
    W_10M AS (PARTITION BY "cc_num" RANGE INTERVAL '10' MINUTE PRECEDING),
    W_1M AS (PARTITION BY "cc_num" RANGE INTERVAL '1' MINUTE PRECEDING),
    W_2M AS (PARTITION BY "cc_num" RANGE INTERVAL '2' MINUTE PRECEDING),
    W_5M AS (PARTITION BY "cc_num" RANGE INTERVAL '5' MINUTE PRECEDING);
