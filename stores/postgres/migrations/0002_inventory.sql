-- Stock per store and SKU, and the movements that explain it (processors/inventory).

create table inventory (
    store_id   text,
    sku        text,
    on_hand    int not null default 0 constraint inventory_on_hand_nonnegative check (on_hand >= 0),
    reserved   int not null default 0 constraint inventory_reserved_nonnegative check (reserved >= 0),
    low        boolean not null default false,
    updated_at timestamptz not null default now(),
    -- Never promise more than is on the shelf.
    constraint inventory_reserved_le_on_hand check (reserved <= on_hand),
    primary key (store_id, sku)
);

-- "Low stock in a store": partial, so it holds only the few rows that are low.
create index inventory_low_idx on inventory (store_id, sku) where low;

create table inventory_movements (
    -- Derived from the event, so a replayed event cannot move stock twice.
    movement_id    text primary key,
    store_id       text not null,
    sku            text not null,
    kind           text not null
                   constraint inventory_movements_kind_known check (kind in ('received', 'adjusted', 'reserved', 'released')),
    on_hand_delta  int not null,
    reserved_delta int not null,
    order_id       text,
    event_id       uuid not null,
    reason         text,
    at             timestamptz not null
);

-- The history of one SKU in one store, in time order.
create index inventory_movements_store_sku_at_idx on inventory_movements (store_id, sku, at);
