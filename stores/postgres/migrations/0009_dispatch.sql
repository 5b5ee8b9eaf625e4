-- Dispatch (processors/dispatch): confirmed orders waiting for a shopper, the shoppers,
-- and the trips they were given. Written only in the dispatch worker's batch transaction,
-- so a crash loses nothing and a replay finds every decision already taken.

-- Where each store is: trips start there. Nullable: older reference data has none (the
-- store's orders then wait as 'unroutable' until it has one).
alter table stores add column lat double precision, add column lon double precision;

create table dispatch_orders (
    order_id      text primary key,
    store_id      text not null,
    lat           double precision,
    lon           double precision,
    confirmed_at  timestamptz not null,  -- the order.confirmed event's time
    received_at   timestamptz not null,  -- when dispatch first saw it (the batching clock)
    status        text not null default 'waiting'
                  constraint dispatch_orders_status check
                  (status in ('waiting', 'unroutable', 'assigned', 'picked_up', 'delivered', 'failed')),
    delivery_id   text,
    assigned_at   timestamptz,
    delivered_at  timestamptz,
    -- an order is given to at most one trip, and a trip only to a waiting order
    constraint dispatch_orders_assigned check ((delivery_id is null) = (status in ('waiting', 'unroutable')))
);
-- "Waiting, by store, oldest first": partial, so finished orders cost the matcher nothing.
create index dispatch_orders_waiting_idx on dispatch_orders (store_id, received_at)
    where status = 'waiting';
create index dispatch_orders_delivery_idx on dispatch_orders (delivery_id);

create table shoppers (
    shopper_id   text primary key,
    store_id     text not null,           -- the zone (store) the shopper works
    online       boolean not null,
    lat          double precision not null,
    lon          double precision not null,
    cell         text not null,           -- H3 cell (resolution 7) of the position
    capacity     int not null,
    delivery_id  text,                    -- the trip in hand; null = idle
    seen_at      timestamptz not null     -- time of the latest shopper event applied
);
-- "Idle shoppers near this store": the H3 cells of a disk around it.
create index shoppers_idle_idx on shoppers (store_id, cell) where online and delivery_id is null;

create table deliveries (
    delivery_id   text primary key,
    shopper_id    text not null,
    store_id      text not null,
    order_ids     text[] not null,
    route         jsonb not null,         -- the stops as in delivery.assigned
    to_store_m    double precision not null,
    route_m       double precision not null,
    assigned_at   timestamptz not null,
    eta           timestamptz not null,
    status        text not null default 'assigned'
                  constraint deliveries_status check
                  (status in ('assigned', 'picked_up', 'delivered', 'failed')),
    picked_up_at  timestamptz,
    finished_at   timestamptz
);
create index deliveries_shopper_idx on deliveries (shopper_id, assigned_at desc);
create index deliveries_assigned_idx on deliveries (assigned_at desc);
