create table messages (
    id varchar,
    type varchar,
    event varchar,
    distinct_id varchar,
    "timestamp" varchar,
    properties varchar,
    uuid varchar
);

create table people (
    id varchar,
    distinct_id varchar,
    "timestamp" timestamp,
    "$set" json,
    "$set_once" json
);

create table links (
    distinct_id varchar,
    alias varchar,
    "timestamp" varchar
);
