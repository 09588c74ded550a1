-- The second seed: max price per ticker over a 90 s window sliding every 60 s (event time),
-- written to the max-prices stream. Flink SQL; the tables name their streams in WITH (...).
CREATE TABLE trades (
  EVENT_TIME TIMESTAMP(3),
  TICKER     STRING,
  PRICE      DOUBLE,
  WATERMARK FOR EVENT_TIME AS EVENT_TIME - INTERVAL '5' SECOND
) WITH ('connector' = 'kinesis', 'stream' = 'trades', 'scan.stream.initpos' = 'TRIM_HORIZON',
        'scan.watermark.idle-timeout' = '10 s', 'format' = 'json');
CREATE TABLE max_prices (TICKER STRING, MAX_PRICE DOUBLE, WINDOW_START TIMESTAMP(3), WINDOW_END TIMESTAMP(3))
  WITH ('connector' = 'kinesis', 'stream' = 'max-prices', 'format' = 'json');
INSERT INTO max_prices
SELECT TICKER, MAX(PRICE), window_start, window_end
FROM TABLE(HOP(TABLE trades, DESCRIPTOR(EVENT_TIME), INTERVAL '60' SECOND, INTERVAL '90' SECOND))
GROUP BY window_start, window_end, TICKER;
