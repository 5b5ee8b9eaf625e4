-- Reference data and the order read model (processors/orders writes, the read API reads).
-- No schema prefixes: the runner sets search_path, so tests can migrate a schema of their own.
-- No foreign keys from orders to stores/customers: events may arrive before reference data.

create table customers (
    customer_id text primary key,
    name        text not null,
    created_at  timestamptz default now()
);

create table stores (
    store_id text primary key,
    name     text not null,
    region   text
);

create table products (
    sku                 text primary key,
    name                text not null,
    category            text not null,
    unit_price          numeric(12, 2) not null
                        constraint products_unit_price_nonnegative check (unit_price >= 0),
    currency            char(3) not null,
    low_stock_threshold int
                        constraint products_low_stock_threshold_nonnegative check (low_stock_threshold >= 0)
);

create table orders (
    order_id        text primary key,
    store_id        text not null,
    customer_id     text not null,
    status          text not null
                    constraint orders_status_known check (status in ('confirmed', 'rejected', 'cancelled')),
    reject_reason   text,
    total           numeric(14, 2) not null,
    currency        char(3) not null,
    placed_at       timestamptz not null,
    updated_at      timestamptz not null,
    -- The OrderPlaced event that created the row: a replay cannot create a second order.
    placed_event_id uuid not null constraint orders_placed_event_id_key unique
);

-- A store's orders, newest first.
create index orders_store_placed_idx on orders (store_id, placed_at desc);
-- A customer's orders, newest first.
create index orders_customer_placed_idx on orders (customer_id, placed_at desc);
-- Orders in a status changed in a time window (e.g. recent rejections).
create index orders_status_updated_idx on orders (status, updated_at);
-- Per-minute counts over the last N minutes.
create index orders_updated_at_idx on orders (updated_at);

create table order_lines (
    order_id   text references orders on delete cascade,
    line_no    int,
    sku        text not null,
    quantity   int not null constraint order_lines_quantity_positive check (quantity > 0),
    unit_price numeric(12, 2) not null
               constraint order_lines_unit_price_nonnegative check (unit_price >= 0),
    primary key (order_id, line_no)
);

create table order_status_history (
    order_id text references orders on delete cascade,
    status   text not null,
    reason   text,
    event_id uuid not null,
    at       timestamptz not null,
    -- One row per status an order reached: a replayed transition is a no-op upsert.
    primary key (order_id, status)
);
