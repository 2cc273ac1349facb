"""A PostgreSQL backup read as data only (issue 11, break-it of restore: a dump could run any
SQL as the database user, e.g. `COPY ... TO PROGRAM`, or bring triggers and tables of its own).

`meldcode backup` writes a pg_dump in the custom format. pg_restore turns it into its script
(`pg_restore -f -`, no server involved); parse() reads that script and takes from it only:

- the rows of each table (the lines of its `COPY ... FROM stdin` block) and the values of the
  sequences (`SELECT pg_catalog.setval(...)`), each checked against the tables, columns and
  sequences the migrations create;
- every other object (table, index, trigger, function, constraint, view, ...) as its name,
  kind and normalised text, which compare() holds against the script of a database the
  migrations built at the backup's schema revision: an object more, less or different is
  refused by name.

No statement of the dump is ever run. load() builds the schema with the product's own
migrations at the backup's revision and copies the rows in through COPY FROM STDIN statements
it composes itself, in one transaction (webui/cli.py: first into a scratch database that
restore.check_copy checks, then into the database itself)."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from alembic import command
from psycopg import sql
from sqlalchemy import Connection, MetaData, inspect, text

from . import restore, schema
from .messages import N_, Message

HEADER = re.compile(r"^-- (Data for )?Name: (.*); Type: (.*); Schema: (.*); Owner: .*$")
COPY = re.compile(r"^COPY public\.(\"?[a-z_][a-z0-9_]*\"?) \((.*)\) FROM stdin;$")
SETVAL = re.compile(r"^SELECT pg_catalog\.setval\('public\.([a-z_][a-z0-9_]*)', (\d+), (true|false)\);$")
# Lines of the script that are no object's own text: comments, session settings, psql's
# \restrict guard, ownership (backups are made --no-owner; a reference may name its owner).
UNKNOWN = N_("de reservekopie bevat {name}, dat het schema van deze versie niet kent")
NOISE = re.compile(r"^(--|SET |SELECT pg_catalog\.set_config\(|\\(un)?restrict |ALTER .* OWNER TO )")


@dataclass
class Dump:
    """What parse() found: each object's normalised text by (kind, schema, name); each
    table's rows (columns, COPY text); each sequence's (value, is_called)."""

    objects: dict[tuple[str, str, str], str] = field(default_factory=dict)
    rows: dict[str, tuple[list[str], str]] = field(default_factory=dict)
    sequences: dict[str, tuple[int, bool]] = field(default_factory=dict)

    def revision(self) -> str | None:
        """The schema revision in the dump's alembic_version rows (None unless one)."""
        lines = self.rows.get("alembic_version", ([], ""))[1].splitlines()
        return lines[0] if len(lines) == 1 else None


def _refused(what: str, name: str) -> restore.RestoreRefused:
    return restore.RestoreRefused(Message(what, name=name))


def _ident(name: str) -> str:
    return name[1:-1] if name.startswith('"') and name.endswith('"') else name


def parse(script: str) -> Dump:
    """The script of `pg_restore -f -` read as above. Raises restore.RestoreRefused (Dutch,
    naming the object) for a data block that is no plain COPY of a table of the public schema
    or setval of one of its sequences."""
    dump = Dump()
    blocks: list[tuple[tuple[str, str, str, bool], list[str]]] = []
    for line in script.splitlines():
        found = HEADER.match(line)
        if found:
            data, name, kind, where = found.groups()
            blocks.append(((kind, where, name, bool(data)), []))
        elif blocks:
            blocks[-1][1].append(line)
    for (kind, where, name, _data), lines in blocks:
        if kind == "TABLE DATA":
            _rows(dump, where, name, lines)
        elif kind == "SEQUENCE SET":
            body = [line for line in lines if line and not NOISE.match(line)]
            setval = SETVAL.match(body[0]) if len(body) == 1 else None
            if where != "public" or setval is None or setval.group(1) != name:
                raise _refused(N_("de reservekopie zet de reeks {name} anders dan met een waarde"), name)
            dump.sequences[name] = (int(setval.group(2)), setval.group(3) == "true")
        else:
            body = [line for line in lines if line.strip() and not NOISE.match(line)]
            dump.objects[(kind, where, name)] = " ".join(" ".join(body).split())
    return dump


def _rows(dump: Dump, where: str, name: str, lines: list[str]) -> None:
    start = next((i for i, line in enumerate(lines) if line and not line.startswith("--")), None)
    copy = COPY.match(lines[start]) if start is not None else None
    if where != "public" or copy is None or _ident(copy.group(1)) != name or name in dump.rows:
        raise _refused(N_("de reservekopie laadt de tabel {name} anders dan met gewone rijen"), name)
    assert start is not None
    end = next((i for i in range(start + 1, len(lines)) if lines[i] == "\\."), None)
    if end is None or any(line.strip() and not NOISE.match(line) for line in lines[end + 1 :]):
        raise _refused(N_("de reservekopie laadt de tabel {name} anders dan met gewone rijen"), name)
    columns = [_ident(c.strip()) for c in copy.group(2).split(",")]
    dump.rows[name] = (columns, "".join(line + "\n" for line in lines[start + 1 : end]))


def compare(dump: Dump, reference: Dump) -> None:
    """Whether the dump's objects are the reference's (the migrations' at the same revision):
    the same kinds and names, the same text. Raises restore.RestoreRefused naming the first
    object more, missing or different."""
    for key in sorted(set(dump.objects) | set(reference.objects)):
        kind, _where, name = key
        label = f"{kind.lower()} {name}"
        if key not in reference.objects:
            raise _refused(UNKNOWN, label)
        if key not in dump.objects:
            raise _refused(N_("in de reservekopie ontbreekt {name} van het schema van deze versie"), label)
        if dump.objects[key] != reference.objects[key]:
            raise _refused(N_("in de reservekopie wijkt {name} af van het schema van deze versie"), label)


def create_schema(conn: Connection, revision: str) -> None:
    """The product's schema at `revision`, made by its migrations on `conn` (in its
    transaction), in a database whose public schema holds nothing of ours any more."""
    config = schema.alembic_config(conn.engine.url.render_as_string(hide_password=False))
    config.attributes["connection"] = conn
    command.upgrade(config, revision)


def drop_all(conn: Connection) -> None:
    """Remove every table, view, sequence and function of the public schema (in `conn`'s
    transaction): what restore replaces. Functions of extensions stay."""
    for kind, name in conn.execute(
        text(
            "SELECT CASE c.relkind WHEN 'v' THEN 'VIEW' WHEN 'm' THEN 'MATERIALIZED VIEW' "
            "WHEN 'S' THEN 'SEQUENCE' WHEN 'f' THEN 'FOREIGN TABLE' ELSE 'TABLE' END, c.relname "
            "FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
            "WHERE n.nspname = 'public' AND c.relkind IN ('r', 'p', 'v', 'm', 'S', 'f') "
            "AND NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.objid = c.oid AND d.deptype = 'e')"
        )
    ).all():
        conn.exec_driver_sql(f'DROP {kind} IF EXISTS public."{name}" CASCADE')
    for (signature,) in conn.execute(
        text(
            "SELECT p.oid::regprocedure::text FROM pg_proc p JOIN pg_namespace n ON n.oid = "
            "p.pronamespace WHERE n.nspname = 'public' AND NOT EXISTS (SELECT 1 FROM pg_depend "
            "d WHERE d.objid = p.oid AND d.deptype = 'e')"
        )
    ).all():
        conn.exec_driver_sql(f"DROP FUNCTION IF EXISTS {signature} CASCADE")


def load(conn: Connection, dump: Dump) -> None:
    """Copy the dump's rows and sequence values into the tables the migrations made on `conn`
    (in its transaction): parents before the rows that refer to them, the tables' own
    triggers held off while their rows go in (as pg_restore creates triggers after the
    data). Raises restore.RestoreRefused naming a table or sequence the schema lacks or
    columns that differ; a row the column types refuse raises the driver's error."""
    meta = MetaData()
    meta.reflect(conn)
    known = {table.name: [c.name for c in table.columns] for table in meta.sorted_tables}
    for name, (columns, _data) in dump.rows.items():
        if name not in known:
            raise _refused(UNKNOWN, name)
        if sorted(columns) != sorted(known[name]):
            raise _refused(N_("in de reservekopie wijken de kolommen van de tabel {name} af"), name)
    raw: Any = conn.connection.driver_connection
    with raw.cursor() as cursor:
        for table in meta.sorted_tables:
            if table.name not in dump.rows or table.name in ("alembic_version", "rate_limits"):
                # alembic_version: the migrations wrote the same revision; rate_limits: not
                # carried (engine/restore_rows.py)
                continue
            columns, data = dump.rows[table.name]
            cursor.execute(sql.SQL("ALTER TABLE {} DISABLE TRIGGER USER").format(sql.Identifier(table.name)))
            statement = sql.SQL("COPY {} ({}) FROM STDIN").format(
                sql.Identifier(table.name), sql.SQL(", ").join(map(sql.Identifier, columns))
            )
            with cursor.copy(statement) as copy:
                copy.write(data.encode())
            cursor.execute(sql.SQL("ALTER TABLE {} ENABLE TRIGGER USER").format(sql.Identifier(table.name)))
        sequences = set(inspect(conn).get_sequence_names())
        for name, (value, called) in dump.sequences.items():
            if name not in sequences:
                raise _refused(UNKNOWN, name)
            cursor.execute("SELECT pg_catalog.setval(%s, %s, %s)", (f'public."{name}"', value, called))
