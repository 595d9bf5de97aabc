-- Test-only: run by the Redshift stand-in (support/redshift_stand_in_server.py) in its database before any
-- client connects; never shipped. Each object stands for a Redshift catalog view or function that PostgreSQL
-- lacks, with Redshift's documented behaviour, so dbt-redshift and the project run unchanged.

-- Redshift: pg_get_late_binding_view_cols() lists the columns of late-binding views (WITH NO SCHEMA BINDING).
-- PostgreSQL has no late-binding views, so there are none to list. dbt-redshift reads it for every relation.
create function public.pg_get_late_binding_view_cols() returns setof record
language sql stable as $$
    select null::name, null::name, null::name, null::varchar, null::int where false
$$;

-- Redshift's catalog views live in pg_catalog, where PostgreSQL lets a superuser add objects only with this on.
set allow_system_table_mods = on;

-- Redshift: svv_external_columns lists the columns of Spectrum (external) tables; there are none here.
create view pg_catalog.svv_external_columns as
select
    null::name as schemaname,
    null::name as tablename,
    null::name as columnname,
    null::varchar as external_type,
    null::int as columnnum
where false;

-- The shims below are in schema public, searched before pg_catalog, so one that shares a built-in's name and
-- arguments (regexp_substr) is the one called, as Redshift's own function would be.
alter database dev set search_path = "$user", public, pg_catalog;

-- Redshift: SUPER holds any JSON value. A scalar cast to SUPER is that scalar (a string stays a string, a
-- number a number); JSON_PARSE reads JSON text into SUPER; JSON_SERIALIZE writes SUPER as compact JSON text, and
-- the text 'null' for SQL NULL; JSON_SIZE is the byte length JSON_SERIALIZE would write (with no limit); JSON_TYPEOF
-- names the JSON type. Here SUPER is a composite holding a PostgreSQL json value, with the casts Redshift has.
create type public.super as (value json);

create function public.super_of_json(json) returns public.super
language sql immutable as $$ select row($1)::public.super $$;

do $$
declare
    scalar text;
begin
    foreach scalar in array array[
        'text', 'varchar', 'bigint', 'integer', 'smallint', 'numeric', 'double precision', 'real', 'boolean'
    ] loop
        execute format(
            'create function public.super_of(%1$s) returns public.super language sql immutable'
            ' as $f$ select public.super_of_json(to_json($1)) $f$', scalar
        );
        execute format('create cast (%1$s as public.super) with function public.super_of(%1$s)', scalar);
    end loop;
end
$$;

create function public.json_parse(text) returns public.super
language sql immutable strict as $$ select public.super_of_json($1::json) $$;

-- JSON_SERIALIZE fails, as Redshift's does, when the text would not fit its 65,535-byte VARCHAR.
create function public.json_serialize(public.super) returns text
language plpgsql immutable as $$
declare
    serialized constant text := coalesce(($1).value::text, 'null');
begin
    if octet_length(serialized) > 65535 then
        raise exception 'JSON_SERIALIZE: % bytes exceed the VARCHAR limit of 65535', octet_length(serialized);
    end if;
    return serialized;
end
$$;

create function public.json_size(public.super) returns integer
language sql immutable strict as $$ select octet_length(($1).value::text) $$;

create function public.json_typeof(public.super) returns text
language sql immutable strict as $$ select json_typeof(($1).value) $$;

-- Redshift: REGEXP_SUBSTR(source, pattern, position, occurrence, parameters) takes 'e' among its parameters to
-- return the first subexpression (capture group); PostgreSQL names the group as a sixth argument instead.
create function public.regexp_substr(text, text, integer, integer, text) returns text
language sql immutable strict as $$
    select coalesce(
        case
            when position('e' in $5) > 0
                then pg_catalog.regexp_substr($1, $2, $3, $4, replace($5, 'e', ''), 1)
            else pg_catalog.regexp_substr($1, $2, $3, $4, $5)
        end,
        ''  -- Redshift answers no match with an empty string
    )
$$;

-- Redshift: STRTOL(num_string, base) reads a number written in the given base as a BIGINT.
create function public.strtol(text, integer) returns bigint
language plpgsql immutable strict as $$
declare
    digits constant text := '0123456789abcdefghijklmnopqrstuvwxyz';
    result bigint := 0;
    digit integer;
begin
    for position in 1 .. length($1) loop
        digit := strpos(digits, lower(substr($1, position, 1))) - 1;
        if digit < 0 or digit >= $2 then
            raise exception 'STRTOL: % is not a number in base %', $1, $2;
        end if;
        result := result * $2 + digit;
    end loop;
    return result;
end
$$;

-- Redshift: GETDATE() is the statement's start time, UTC without a zone, to the second.
create function public.getdate() returns timestamp
language sql stable as $$ select date_trunc('second', now() at time zone 'UTC') $$;

-- Redshift: IS_VALID_JSON(text) is true when the text is well-formed JSON, false otherwise (never an error).
create function public.is_valid_json(text) returns boolean
language plpgsql immutable strict as $$
begin
    perform $1::json;
    return true;
exception when others then
    return false;
end
$$;
