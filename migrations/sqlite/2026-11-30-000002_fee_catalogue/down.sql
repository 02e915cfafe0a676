DROP TABLE fee_items;
