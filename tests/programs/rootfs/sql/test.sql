-- The SQLite differential test and benchmark (issue 3 items 6 and 7), run from the rootfs root as
--   sqlite3 -batch -init /dev/null :memory: '.read sql/test.sql'
-- Builds sql-test.db in the rootfs: 10,000 orders made by a recursive CTE in one transaction, a customers table,
-- indexes; closes it, opens the file again and queries it (joins, aggregates, window functions, the indexes'
-- query plans); changes it in a second transaction and checks its integrity. All data is derived from
-- arithmetic, never random(), so every run prints the same.

.bail on
.headers on
.mode list
.separator " | "

.open --new sql-test.db
PRAGMA journal_mode = DELETE;
PRAGMA page_size = 4096;

BEGIN;
CREATE TABLE customers (
    id INTEGER PRIMARY KEY,
    name TEXT NOT NULL,
    region TEXT NOT NULL
);
CREATE TABLE orders (
    id INTEGER PRIMARY KEY,
    customer_id INTEGER NOT NULL REFERENCES customers(id),
    product TEXT NOT NULL,
    quantity INTEGER NOT NULL,
    price_cents INTEGER NOT NULL,
    day INTEGER NOT NULL
);
WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 200)
INSERT INTO customers (id, name, region)
SELECT i, 'customer-' || printf('%03d', i),
       CASE i % 4 WHEN 0 THEN 'north' WHEN 1 THEN 'south' WHEN 2 THEN 'east' ELSE 'west' END
FROM n;
WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 10000)
INSERT INTO orders (id, customer_id, product, quantity, price_cents, day)
SELECT i,
       1 + (i * 7919) % 200,
       'product-' || char(65 + (i * 31) % 26) || ((i * 17) % 10),
       1 + (i * 13) % 9,
       100 + (i * 104729) % 9900,
       (i * 37) % 365
FROM n;
CREATE INDEX orders_by_customer ON orders(customer_id);
CREATE INDEX orders_by_product_day ON orders(product, day);
COMMIT;

SELECT count(*) AS orders, sum(quantity) AS items, sum(quantity * price_cents) AS revenue_cents FROM orders;

-- Close the database and read it back from the file.
.open sql-test.db
SELECT 'reopened' AS state, (SELECT count(*) FROM orders) AS orders, (SELECT count(*) FROM customers) AS customers;
PRAGMA integrity_check;
SELECT name FROM sqlite_schema WHERE type = 'index' ORDER BY name;

-- Aggregates and a join.
SELECT c.region, count(*) AS orders, sum(o.quantity) AS items, round(avg(o.price_cents) / 100.0, 2) AS avg_price,
       min(o.price_cents) AS cheapest, max(o.price_cents) AS dearest
FROM orders o JOIN customers c ON c.id = o.customer_id
GROUP BY c.region ORDER BY c.region;

SELECT c.name, count(*) AS orders, sum(o.quantity * o.price_cents) AS spent_cents
FROM customers c JOIN orders o ON o.customer_id = c.id
GROUP BY c.id ORDER BY spent_cents DESC, c.name LIMIT 5;

SELECT product, count(*) AS orders FROM orders GROUP BY product HAVING count(*) >= 40 ORDER BY orders DESC, product
LIMIT 5;

-- The indexes are used (the plan text is SQLite's, the same for the same binary).
EXPLAIN QUERY PLAN SELECT * FROM orders WHERE customer_id = 17;
EXPLAIN QUERY PLAN SELECT day FROM orders WHERE product = 'product-A2' AND day BETWEEN 10 AND 20;
SELECT count(*) AS c17 FROM orders WHERE customer_id = 17;
SELECT count(*) AS product_a2_days_10_20 FROM orders WHERE product = 'product-A2' AND day BETWEEN 10 AND 20;

-- A self-join, a subquery, window functions, a CTE over the data.
SELECT count(*) AS same_day_pairs FROM orders a JOIN orders b ON a.day = b.day AND a.id < b.id
WHERE a.customer_id = 5;
SELECT count(*) AS same_customer_pairs, sum(abs(a.day - b.day)) AS day_distance
FROM orders a JOIN orders b ON a.customer_id = b.customer_id AND a.id < b.id;
SELECT region, name, spent FROM (
    SELECT c.region, c.name, sum(o.quantity * o.price_cents) AS spent,
           rank() OVER (PARTITION BY c.region ORDER BY sum(o.quantity * o.price_cents) DESC, c.name) AS position
    FROM customers c JOIN orders o ON o.customer_id = c.id GROUP BY c.id)
WHERE position = 1 ORDER BY region;
WITH monthly(month, revenue) AS (
    SELECT day / 31, sum(quantity * price_cents) FROM orders GROUP BY day / 31)
SELECT month, revenue, sum(revenue) OVER (ORDER BY month) AS running_total FROM monthly ORDER BY month;
SELECT printf('%.3f', sqrt(sum(price_cents * price_cents) / count(*))) AS rms_price, total(quantity) AS total_quantity,
       group_concat(DISTINCT quantity) AS quantities FROM (SELECT * FROM orders ORDER BY quantity);

-- A second transaction changes the file; a rolled-back one does not.
BEGIN;
UPDATE orders SET quantity = quantity + 1 WHERE day = 0;
DELETE FROM orders WHERE id % 1000 = 0;
INSERT INTO customers (id, name, region) VALUES (201, 'customer-201', 'north');
COMMIT;
BEGIN;
DELETE FROM orders;
ROLLBACK;
.open sql-test.db
SELECT count(*) AS orders_after, sum(quantity) AS items_after, (SELECT count(*) FROM customers) AS customers_after
FROM orders;
PRAGMA integrity_check;
PRAGMA foreign_key_check;

SELECT 'sqlite: all queries ran' AS result;

-- Last, an error: reported on stderr, and the shell's exit status says that something failed. (.bail must stay
-- off from here on: turning it on after an error ends the script.)
.bail off
INSERT INTO customers (id, name, region) VALUES (1, 'duplicate', 'none');
