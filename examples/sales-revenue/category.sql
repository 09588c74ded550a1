-- Category drill-down: revenue and order count per store and category per minute.
CREATE OR REPLACE STREAM "CATEGORY_REVENUE_PER_MIN" ("store_id" VARCHAR(16), "category" VARCHAR(16), "revenue" REAL, "orders" INTEGER, "timestamp" TIMESTAMP);
CREATE OR REPLACE PUMP "CATEGORY_PUMP" AS INSERT INTO "CATEGORY_REVENUE_PER_MIN"
SELECT STREAM "store_id", "category", SUM("sales") AS "revenue", COUNT(*) AS "orders", ROWTIME AS "timestamp"
FROM "SALES_001"
GROUP BY STEP("SALES_001".ROWTIME BY INTERVAL '60' SECOND), "store_id", "category";
