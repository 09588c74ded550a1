-- a line comment before the first statement
/* a block comment
   spanning lines */
CREATE OR REPLACE STREAM "DESTINATION_SQL_STREAM" ( -- trailing comment
    ticker VARCHAR(8), /* inline */ qty INTEGER);
/* between statements */
CREATE OR REPLACE PUMP "STREAM_PUMP" AS INSERT INTO "DESTINATION_SQL_STREAM"
  SELECT STREAM ticker, -- the symbol
         qty /* the quantity */ + 1
  FROM "SOURCE_SQL_STREAM_001"; -- done
-- a comment after the last statement