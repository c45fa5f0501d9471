//! Whose tables the store is. The session's `search_path` is pinned, once, to the schema the
//! store is in (`?schema=NAME`, else the one where the default path finds `mpt_schema`, else
//! where the first apply makes it), with `pg_catalog` before it and `pg_temp` last: nothing
//! else shadows a table or a function of ours. That schema and the store's tables must be owned
//! by the session's role, a role it is a member of, a superuser, or `pg_database_owner`; and
//! carry no trigger or rule. A role with only CREATE on the database could otherwise make a
//! schema named as our user (first in the default `"$user", public`) with look-alike tables
//! whose trigger runs as us, and hide the real store from us.

use tokio_postgres::types::Type;

use super::{PgStore, StoreError};

/// The roles whose objects are ours: the session's role and every role it is a member of
/// (`pg_auth_members`, not `pg_has_role`, which says yes to a superuser for every role), the
/// superusers, and `pg_database_owner`. The schema `public` is the database's, whoever owns it
/// (a managed service's administrator role, before PostgreSQL 15): only its tables are checked.
const TRUSTED: &str = "with recursive mine(oid) as (
         select oid from pg_roles where rolname = current_user
         union select m.roleid from pg_auth_members m join mine on m.member = mine.oid),
     trusted(oid) as (
         select oid from mine
         union select oid from pg_roles where rolsuper or rolname = 'pg_database_owner'),
     ours(oid, what) as (
         select c.oid, format('table %I.%I', n.nspname, c.relname)
         from pg_class c join pg_namespace n on n.oid = c.relnamespace
         where n.nspname = $1 and c.relname in ('mpt_schema', 'mpt_records', 'mpt_holders'))
     select format('schema %I is owned by the role %I', n.nspname, pg_get_userbyid(n.nspowner))
         from pg_namespace n
         where n.nspname = $1 and n.nspname <> 'public' and n.nspowner not in (select oid from trusted)
     union all
     select format('%s is owned by the role %I', o.what, pg_get_userbyid(c.relowner))
         from ours o join pg_class c on c.oid = o.oid
         where c.relowner not in (select oid from trusted)
     union all
     select format('%s has a trigger %I', o.what, t.tgname)
         from ours o join pg_trigger t on t.tgrelid = o.oid where not t.tgisinternal
     union all
     select format('%s has a rule %I', o.what, r.rulename)
         from ours o join pg_rewrite r on r.ev_class = o.oid";

impl PgStore {
    /// The schema the store is in, pinned as the session's `search_path` (none when the
    /// default path names no schema that exists: nothing to find, nothing can be made).
    pub(super) async fn pin_schema(&mut self) -> Result<(), StoreError> {
        let schema = match &self.ours.schema {
            Some(schema) => Some(schema.clone()),
            None => {
                let row = self
                    .ask("finding the store's schema", async {
                        self.client
                            .query_typed_one(
                                "select coalesce((select n.nspname::text from pg_class c
                                     join pg_namespace n on n.oid = c.relnamespace
                                     where c.oid = to_regclass('mpt_schema')),
                                     current_schema()::text)",
                                &[],
                            )
                            .await
                    })
                    .await?;
                self.column::<Option<String>>(&row, 0, "the store's schema")?
            }
        };
        if let Some(schema) = &schema {
            self.ask("pinning the session's search_path", async {
                self.client
                    .query_typed(
                        "select set_config('search_path',
                             'pg_catalog, ' || quote_ident($1) || ', pg_temp', false)",
                        &[(schema, Type::TEXT)],
                    )
                    .await
            })
            .await?;
        }
        self.schema = schema;
        Ok(())
    }

    /// Refuses a store whose schema or tables are not ours, or whose tables carry a trigger or
    /// a rule: naming the schema, the table and its owner.
    pub(super) async fn owned_by_us(&self) -> Result<(), StoreError> {
        let Some(schema) = &self.schema else {
            return Ok(());
        };
        let rows = self
            .ask("checking who owns the store's schema and tables", async {
                self.client
                    .query_typed(TRUSTED, &[(schema, Type::TEXT)])
                    .await
            })
            .await?;
        let found: Vec<String> = rows
            .iter()
            .map(|row| self.column::<String>(row, 0, "an owner"))
            .collect::<Result<_, _>>()?;
        if found.is_empty() {
            return Ok(());
        }
        Err(StoreError::BadSchema {
            location: self.location.clone(),
            why: format!(
                "{}: the store must be the session's role's (or a role it is a member of, or a superuser's), with no trigger or rule; refused, never used (another role's tables could run code as this one, or hide the real store)",
                found.join("; ")
            ),
        })
    }

    /// Refuses, at an apply's start, a role that cannot write the records (a select-only
    /// role, say): before anything is sent, not as a failed row after a change.
    pub(super) async fn may_write(&self) -> Result<(), StoreError> {
        let row = self
            .ask("checking the role's rights on the store's tables", async {
                self.client
                    .query_typed_one(
                        "select array_to_string(array_remove(array[
                             case when has_table_privilege('mpt_records', 'select') then null else 'select on mpt_records' end,
                             case when has_table_privilege('mpt_records', 'insert') then null else 'insert on mpt_records' end,
                             case when has_table_privilege('mpt_records', 'update') then null else 'update on mpt_records' end,
                             case when has_table_privilege('mpt_records', 'delete') then null else 'delete on mpt_records' end,
                             case when has_table_privilege('mpt_schema', 'select') then null else 'select on mpt_schema' end],
                             null), ', ')",
                        &[],
                    )
                    .await
            })
            .await?;
        let missing: String = self.column(&row, 0, "the role's rights")?;
        if missing.is_empty() {
            return Ok(());
        }
        Err(StoreError::BadSchema {
            location: self.location.clone(),
            why: format!(
                "the role may not write the store's records: it lacks {missing} (an apply needs select, insert, update and delete on mpt_records, and select on mpt_schema)"
            ),
        })
    }

    /// The SQL that makes the store's tables in its schema (the creation schema is the first
    /// of the path) and pins the path again after.
    pub(super) fn creating_in(&self, sql: &str) -> String {
        match &self.schema {
            Some(schema) => {
                let quoted = format!("\"{}\"", schema.replace('"', "\"\""));
                format!(
                    "set search_path = {quoted}, pg_catalog, pg_temp;\n{sql}\nset search_path = pg_catalog, {quoted}, pg_temp;"
                )
            }
            None => sql.to_string(),
        }
    }
}
