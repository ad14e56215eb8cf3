-- Streaming aggregation for Managed Service for Apache Flink (Flink 1.20), rendered from
-- features/definition.py. Do not edit: run `make render`. ${...} are the app's runtime
-- properties; the tests run the same statements with the filesystem connector.
-- The two INSERTs run as one statement set.

SET 'table.local-time-zone' = 'UTC';
SET 'pipeline.auto-watermark-interval' = '0';
SET 'execution.runtime-mode' = 'streaming';
SET 'table.exec.state.ttl' = '1 d';
SET 'table.exec.source.idle-timeout' = '30 s';

CREATE TEMPORARY TABLE transactions (
  payload STRING,
  tid AS JSON_VALUE(payload, '$.tid'),
  cc_num AS TRY_CAST(JSON_VALUE(payload, '$.cc_num') AS BIGINT),
  amount AS TRY_CAST(JSON_VALUE(payload, '$.amount') AS DOUBLE),
  trans_ts_text AS JSON_VALUE(payload, '$.trans_ts'),
  trans_ts AS COALESCE(CASE WHEN JSON_VALUE(payload, '$.tid') IS NOT NULL AND TRY_CAST(JSON_VALUE(payload, '$.cc_num') AS BIGINT) IS NOT NULL AND TRY_CAST(JSON_VALUE(payload, '$.amount') AS DOUBLE) BETWEEN 0 AND 1.7976931348623157E308 THEN CAST(TO_TIMESTAMP(REPLACE(REPLACE(JSON_VALUE(payload, '$.trans_ts'), 'T', ' '), 'Z', '')) AS TIMESTAMP_LTZ(3)) END, TO_TIMESTAMP_LTZ(0, 3)),
  arrival AS PROCTIME(),
  WATERMARK FOR trans_ts AS trans_ts - INTERVAL '0 00:00:00.200' DAY TO SECOND(3)
) WITH (
  'connector' = 'kinesis',
  'stream.arn' = '${input.stream.arn}',
  'aws.region' = '${aws.region}',
  'source.init.position' = '${source.init.position}',
  'format' = 'raw'
);

CREATE TEMPORARY TABLE aggregates (
  tid STRING,
  trans_ts STRING,
  cc_num BIGINT,
  amount DOUBLE,
  num_trans_last_10m BIGINT,
  avg_amt_last_10m DOUBLE,
  num_trans_last_1m BIGINT,
  num_trans_last_2m BIGINT,
  num_trans_last_5m BIGINT
) WITH (
  'connector' = 'kinesis',
  'stream.arn' = '${output.stream.arn}',
  'aws.region' = '${aws.region}',
  'sink.flush-buffer.timeout' = '100',
  'format' = 'json',
  'json.encode.decimal-as-plain-number' = 'true'
);

CREATE TEMPORARY TABLE late_records (
  tid STRING,
  trans_ts STRING,
  cc_num BIGINT,
  amount DOUBLE,
  reason STRING
) WITH (
  'connector' = 'kinesis',
  'stream.arn' = '${late.stream.arn}',
  'aws.region' = '${aws.region}',
  'sink.flush-buffer.timeout' = '100',
  'format' = 'json',
  'json.encode.decimal-as-plain-number' = 'true'
);

CREATE TEMPORARY VIEW routed AS
SELECT tid, trans_ts, cc_num, amount, trans_ts_text, arrival,
  CASE
    WHEN tid IS NULL OR trans_ts_text IS NULL OR cc_num IS NULL OR amount IS NULL
      THEN 'invalid: missing or mistyped field(s):' || CASE WHEN tid IS NULL THEN ' tid' ELSE '' END || CASE WHEN trans_ts_text IS NULL THEN ' trans_ts' ELSE '' END || CASE WHEN cc_num IS NULL THEN ' cc_num' ELSE '' END || CASE WHEN amount IS NULL THEN ' amount' ELSE '' END
    WHEN CAST(TO_TIMESTAMP(REPLACE(REPLACE(trans_ts_text, 'T', ' '), 'Z', '')) AS TIMESTAMP_LTZ(3)) IS NULL THEN 'invalid: trans_ts is not an ISO-8601 UTC time: ' || trans_ts_text
    WHEN NOT (amount BETWEEN 0 AND 1.7976931348623157E308) THEN 'invalid: amount must be finite and non-negative'
    WHEN CURRENT_WATERMARK(trans_ts) IS NOT NULL AND trans_ts <= CURRENT_WATERMARK(trans_ts)
      THEN 'late: event time ' || DATE_FORMAT(trans_ts, 'yyyy-MM-dd''T''HH:mm:ss.SSS''Z''') || ' is not after the watermark '
        || DATE_FORMAT(CURRENT_WATERMARK(trans_ts), 'yyyy-MM-dd''T''HH:mm:ss.SSS''Z''')
  END AS reason
FROM transactions;

CREATE TEMPORARY VIEW on_time AS
SELECT tid, trans_ts, cc_num, amount
FROM (
  SELECT tid, trans_ts, cc_num, amount, ROW_NUMBER() OVER (PARTITION BY tid ORDER BY arrival ASC) AS tid_seen
  FROM routed
  WHERE reason IS NULL
)
WHERE tid_seen = 1;

CREATE TEMPORARY VIEW rechecked AS
SELECT tid, trans_ts, cc_num, amount,
  CASE
    WHEN CURRENT_WATERMARK(trans_ts) IS NOT NULL AND trans_ts <= CURRENT_WATERMARK(trans_ts)
      THEN 'late: event time ' || DATE_FORMAT(trans_ts, 'yyyy-MM-dd''T''HH:mm:ss.SSS''Z''') || ' is not after the watermark '
        || DATE_FORMAT(CURRENT_WATERMARK(trans_ts), 'yyyy-MM-dd''T''HH:mm:ss.SSS''Z''')
  END AS reason
FROM on_time;

INSERT INTO late_records
SELECT tid, trans_ts_text AS trans_ts, cc_num, amount, reason
FROM routed
WHERE reason IS NOT NULL
UNION ALL
SELECT tid, DATE_FORMAT(trans_ts, 'yyyy-MM-dd''T''HH:mm:ss.SSS''Z''') AS trans_ts, cc_num, amount, reason
FROM rechecked
WHERE reason IS NOT NULL;

INSERT INTO aggregates
SELECT tid, DATE_FORMAT(trans_ts, 'yyyy-MM-dd''T''HH:mm:ss.SSS''Z''') AS trans_ts, cc_num, amount, num_trans_last_10m, avg_amt_last_10m, num_trans_last_1m, num_trans_last_2m, num_trans_last_5m
FROM (
SELECT tid, trans_ts, cc_num, amount, num_trans_last_10m, avg_amt_last_10m, num_trans_last_1m, num_trans_last_2m,
  CAST(ABS(COUNT(*) OVER w_5m) AS BIGINT) AS num_trans_last_5m
FROM (SELECT tid, trans_ts, cc_num, amount, num_trans_last_10m, avg_amt_last_10m, num_trans_last_1m,
  CAST(ABS(COUNT(*) OVER w_2m) AS BIGINT) AS num_trans_last_2m
FROM (SELECT tid, trans_ts, cc_num, amount, num_trans_last_10m, avg_amt_last_10m,
  CAST(ABS(COUNT(*) OVER w_1m) AS BIGINT) AS num_trans_last_1m
FROM (SELECT tid, trans_ts, cc_num, amount,
  CAST(ABS(COUNT(*) OVER w_10m) AS BIGINT) AS num_trans_last_10m,
  CAST(ABS(AVG(amount) OVER w_10m) AS DOUBLE) AS avg_amt_last_10m
FROM (SELECT tid, trans_ts, cc_num, amount FROM rechecked WHERE reason IS NULL)
WINDOW w_10m AS (PARTITION BY cc_num ORDER BY trans_ts RANGE BETWEEN INTERVAL '0 00:10:00.000' DAY TO SECOND(3) PRECEDING AND CURRENT ROW))
WINDOW w_1m AS (PARTITION BY cc_num ORDER BY trans_ts RANGE BETWEEN INTERVAL '0 00:01:00.000' DAY TO SECOND(3) PRECEDING AND CURRENT ROW))
WINDOW w_2m AS (PARTITION BY cc_num ORDER BY trans_ts RANGE BETWEEN INTERVAL '0 00:02:00.000' DAY TO SECOND(3) PRECEDING AND CURRENT ROW))
WINDOW w_5m AS (PARTITION BY cc_num ORDER BY trans_ts RANGE BETWEEN INTERVAL '0 00:05:00.000' DAY TO SECOND(3) PRECEDING AND CURRENT ROW)
);
