-- Drops exactly what up.sql creates, in reverse order.
DROP TABLE jobs;
DROP TABLE products;
