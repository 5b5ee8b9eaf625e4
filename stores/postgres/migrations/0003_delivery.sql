-- Exactly-once effects on top of at-least-once delivery.

-- Idempotency keys: a consumer records each event it applied, in the same transaction
-- as the effect; a redelivered event hits the primary key and is skipped.
create table processed_events (
    consumer     text not null,
    event_id     uuid not null,
    processed_at timestamptz not null default now(),
    primary key (consumer, event_id)
);

-- Transactional outbox: events written with the state change, published afterwards.
create table outbox (
    id           bigserial primary key,
    event_id     uuid not null constraint outbox_event_id_key unique,
    topic        text not null,
    key          text not null,
    value        bytea not null,
    headers      jsonb not null,
    created_at   timestamptz not null default now(),
    published_at timestamptz
);

-- "Unpublished, oldest first": partial, so published rows cost the relay nothing.
create index outbox_unpublished_idx on outbox (id) where published_at is null;
