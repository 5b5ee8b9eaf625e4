-- The outbox no longer stores each event's headers.
--
-- They repeat what the event's body says (type, version, event id, traceparent:
-- `schemas.wire.headers_of`) plus the emitting worker's extra headers by event type, so
-- the relay, which only publishes rows a crash or a failed publish left, rebuilds them
-- from the payload. Writing them cost a JSON text per emitted event: `json.dumps` was
-- ~4 % of the orders worker's CPU (py-spy, 20,000 events), and PostgreSQL stored and
-- deleted again ~200 bytes per event. Rows left by the previous version lose nothing.
alter table outbox
    drop constraint outbox_arrays_match,
    drop column header_sets,
    add constraint outbox_arrays_match check (
        cardinality(topics) = events and cardinality(keys) = events
        and cardinality(payloads) = events
    );
