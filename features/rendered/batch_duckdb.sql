-- Batch aggregation for duckdb, rendered from features/definition.py.
-- Do not edit: run `make render` (python -m features render).
-- Input: view `transactions`. Outputs: views training, snapshots, online.

CREATE OR REPLACE TEMPORARY VIEW tx AS
SELECT tid, trans_ts, cc_num, amount, fraud_label, event_ms, CAST(FLOOR(event_ms / 86400000) AS BIGINT) AS event_day
FROM (
  SELECT tid, trans_ts, cc_num, amount, fraud_label, epoch_ms(trans_ts) AS event_ms,
         ROW_NUMBER() OVER (PARTITION BY tid ORDER BY CASE WHEN fraud_label IS NULL THEN 1 ELSE 0 END, trans_ts, cc_num, amount) AS tid_seen
  FROM transactions
) ranked
WHERE tid_seen = 1;

CREATE OR REPLACE TEMPORARY VIEW sliding AS
SELECT tx.*,
  CAST(COUNT(*) OVER (PARTITION BY cc_num ORDER BY event_ms RANGE BETWEEN 600000 PRECEDING AND CURRENT ROW) AS BIGINT) AS num_trans_last_10m,
  CAST(AVG(amount) OVER (PARTITION BY cc_num ORDER BY event_ms RANGE BETWEEN 600000 PRECEDING AND CURRENT ROW) AS DOUBLE) AS avg_amt_last_10m,
  CAST(COUNT(*) OVER (PARTITION BY cc_num ORDER BY event_ms RANGE BETWEEN 60000 PRECEDING AND CURRENT ROW) AS BIGINT) AS num_trans_last_1m,
  CAST(COUNT(*) OVER (PARTITION BY cc_num ORDER BY event_ms RANGE BETWEEN 120000 PRECEDING AND CURRENT ROW) AS BIGINT) AS num_trans_last_2m,
  CAST(COUNT(*) OVER (PARTITION BY cc_num ORDER BY event_ms RANGE BETWEEN 300000 PRECEDING AND CURRENT ROW) AS BIGINT) AS num_trans_last_5m
FROM tx;

CREATE OR REPLACE TEMPORARY VIEW daily AS
SELECT cc_num, event_day, COUNT(*) AS p_count, SUM(amount) AS p_sum_amount, COUNT(amount) AS p_count_amount
FROM tx
GROUP BY cc_num, event_day;

CREATE OR REPLACE TEMPORARY VIEW card_days AS
SELECT span.cc_num, span.first_day, calendar.snapshot_day
FROM (SELECT cc_num, MIN(event_day) AS first_day FROM daily GROUP BY cc_num) span
JOIN (
  SELECT UNNEST(GENERATE_SERIES(lo, hi)) AS snapshot_day
  FROM (SELECT MIN(event_day) AS lo, MAX(event_day) + 1 AS hi FROM daily) bounds
) calendar ON calendar.snapshot_day >= span.first_day;

CREATE OR REPLACE TEMPORARY VIEW snapshots_by_day AS
SELECT cc_num, snapshot_day, CAST(snapshot_day * 86400 AS DOUBLE) AS trans_time,
  CAST(COALESCE(w_count, 0) AS BIGINT) AS num_trans_last_1w,
  CAST(CASE WHEN w_count_amount > 0 THEN w_sum_amount / w_count_amount ELSE 0 END AS DOUBLE) AS avg_amt_last_1w
FROM (
  SELECT c.cc_num, c.first_day, c.snapshot_day,
  SUM(d.p_count) OVER (PARTITION BY c.cc_num ORDER BY c.snapshot_day RANGE BETWEEN 7 PRECEDING AND 1 PRECEDING) AS w_count,
  SUM(d.p_sum_amount) OVER (PARTITION BY c.cc_num ORDER BY c.snapshot_day RANGE BETWEEN 7 PRECEDING AND 1 PRECEDING) AS w_sum_amount,
  SUM(d.p_count_amount) OVER (PARTITION BY c.cc_num ORDER BY c.snapshot_day RANGE BETWEEN 7 PRECEDING AND 1 PRECEDING) AS w_count_amount
  FROM card_days c
  LEFT JOIN daily d ON d.cc_num = c.cc_num AND d.event_day = c.snapshot_day
) w
WHERE snapshot_day > first_day;

CREATE OR REPLACE TEMPORARY VIEW snapshots AS
SELECT cc_num, trans_time, num_trans_last_1w, avg_amt_last_1w FROM snapshots_by_day;

CREATE OR REPLACE TEMPORARY VIEW online AS
SELECT cc_num, trans_time, num_trans_last_1w, avg_amt_last_1w
FROM snapshots_by_day
WHERE snapshot_day = (SELECT MAX(snapshot_day) FROM snapshots_by_day);

CREATE OR REPLACE TEMPORARY VIEW training AS
SELECT
  tid,
  trans_ts,
  cc_num,
  amount,
  num_trans_last_10m,
  avg_amt_last_10m,
  num_trans_last_1w,
  avg_amt_last_1w,
  num_trans_last_1m,
  num_trans_last_2m,
  num_trans_last_5m,
  CASE WHEN avg_amt_last_1w IS NULL OR avg_amt_last_1w = 0 THEN CAST(0 AS DOUBLE) ELSE CAST(avg_amt_last_10m AS DOUBLE) / avg_amt_last_1w END AS amt_ratio1,
  CASE WHEN avg_amt_last_1w IS NULL OR avg_amt_last_1w = 0 THEN CAST(0 AS DOUBLE) ELSE CAST(amount AS DOUBLE) / avg_amt_last_1w END AS amt_ratio2,
  CASE WHEN num_trans_last_1w IS NULL OR num_trans_last_1w = 0 THEN CAST(0 AS DOUBLE) ELSE CAST(num_trans_last_10m AS DOUBLE) / num_trans_last_1w END AS count_ratio,
  fraud_label
FROM (
  SELECT f.tid, f.trans_ts, f.cc_num, f.amount, f.fraud_label, f.num_trans_last_10m, f.avg_amt_last_10m, f.num_trans_last_1m, f.num_trans_last_2m, f.num_trans_last_5m,
    COALESCE(s.num_trans_last_1w, 0) AS num_trans_last_1w,
    COALESCE(s.avg_amt_last_1w, 0) AS avg_amt_last_1w
  FROM sliding f
  LEFT JOIN snapshots_by_day s ON s.cc_num = f.cc_num AND s.snapshot_day = f.event_day
) joined;
