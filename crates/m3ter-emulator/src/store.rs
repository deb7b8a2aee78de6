//! The emulator's store: the database (`db`) and an in-memory index of its
//! entities by id, by creation sequence (for newest-first pages that cost
//! O(page size)) and by code.
//!
//! Only the page cursor format is public ([`encode_token`]): a test can ask
//! for a page far into a long list without walking the pages before it.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use base64::Engine as _;
use serde_json::{Map, Value};

use m3ter_api::Kind;

use super::db::{Db, StoreError};
use super::error::{ApiError, ApiResult};

/// A JSON object as stored and returned.
pub(crate) type Object = Map<String, Value>;

/// The tables of the emulator: one per config kind of the kind table, bill
/// jobs, bills and balance transactions.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) enum Table {
    Config(Kind),
    BillJobs,
    Bills,
    /// `/balances/{id}/transactions`: the amounts a balance holds.
    BalanceTransactions,
}

/// Number of tables.
const TABLES: usize = Kind::ALL.len() + 3;

impl Table {
    /// Every table, config kinds first (in kind-table order).
    pub(crate) const ALL: [Table; TABLES] = {
        let mut all = [Table::BillJobs; TABLES];
        let mut i = 0;
        while i < Kind::ALL.len() {
            all[i] = Table::Config(Kind::ALL[i]);
            i += 1;
        }
        all[TABLES - 2] = Table::Bills;
        all[TABLES - 1] = Table::BalanceTransactions;
        all
    };

    /// Name in the database's `entities.tbl` (the collection path segment).
    pub(crate) fn name(self) -> &'static str {
        match self {
            Table::Config(k) => k.collection(),
            Table::BillJobs => "billjobs",
            Table::Bills => "bills",
            Table::BalanceTransactions => "balancetransactions",
        }
    }

    /// Parses a table name.
    pub(crate) fn from_name(name: &str) -> Option<Table> {
        Table::ALL.into_iter().find(|t| t.name() == name)
    }

    /// Position in [`Table::ALL`] (kinds are in `Kind` order there).
    fn index(self) -> usize {
        match self {
            Table::Config(k) => k as usize,
            Table::BillJobs => TABLES - 3,
            Table::Bills => TABLES - 2,
            Table::BalanceTransactions => TABLES - 1,
        }
    }
}

/// One stored entity: its creation sequence number and its response body.
#[derive(Debug, Clone)]
pub(crate) struct Entry {
    pub(crate) seq: u64,
    pub(crate) value: Object,
}

/// One table: entities by id, ids by creation sequence, ids by code.
#[derive(Debug, Default)]
pub(crate) struct Collection {
    by_seq: BTreeMap<u64, String>,
    by_id: HashMap<String, Entry>,
    by_code: HashMap<String, String>,
}

impl Collection {
    /// The entity with this id.
    pub(crate) fn get(&self, id: &str) -> Option<&Entry> {
        self.by_id.get(id)
    }

    /// The id of the entity with this code.
    pub(crate) fn id_by_code(&self, code: &str) -> Option<&str> {
        self.by_code.get(code).map(String::as_str)
    }

    /// Number of entities.
    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.by_id.len()
    }

    /// Entities, newest first.
    pub(crate) fn iter_newest_first(&self) -> impl Iterator<Item = &Entry> {
        self.iter_before(u64::MAX)
    }

    /// Entities created before sequence number `before`, newest first.
    pub(crate) fn iter_before(&self, before: u64) -> impl Iterator<Item = &Entry> {
        self.by_seq
            .range(..before)
            .rev()
            .filter_map(|(_, id)| self.by_id.get(id))
    }

    fn put(&mut self, seq: u64, value: Object) {
        let Some(id) = value.get("id").and_then(Value::as_str).map(str::to_owned) else {
            return;
        };
        self.remove(&id);
        if let Some(code) = value.get("code").and_then(Value::as_str) {
            self.by_code.insert(code.to_owned(), id.clone());
        }
        self.by_seq.insert(seq, id.clone());
        self.by_id.insert(id, Entry { seq, value });
    }

    fn remove(&mut self, id: &str) -> Option<Entry> {
        let old = self.by_id.remove(id)?;
        self.by_seq.remove(&old.seq);
        if let Some(code) = old.value.get("code").and_then(Value::as_str)
            && self.by_code.get(code).is_some_and(|i| i == id)
        {
            self.by_code.remove(code);
        }
        Some(old)
    }
}

/// One change to the store; also the old JSON data file's record format.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(tag = "op", rename_all = "camelCase")]
pub(crate) enum Change {
    /// Insert or replace an entity (keeps `seq` on replace).
    Put {
        table: String,
        seq: u64,
        value: Object,
    },
    /// Delete an entity.
    Delete { table: String, id: String },
    /// Store an accepted measurement.
    Measurement { value: Object },
}

impl Change {
    /// The commit of one config write: `entity` put into `kind`'s table at
    /// `seq`, and the entity to answer with.
    pub(crate) fn put_entity(kind: Kind, seq: u64, entity: Object) -> (Vec<Change>, Object) {
        let change = Change::Put {
            table: kind.collection().into(),
            seq,
            value: entity.clone(),
        };
        (vec![change], entity)
    }
}

/// Everything the emulator stores: the database, and an in-memory index of
/// its entities (by id, creation sequence and code) that answers reads and
/// pages. Measurements are only in the database.
#[derive(Debug)]
pub(crate) struct Store {
    /// Indexed by [`Table::index`].
    tables: Vec<Collection>,
    next_seq: u64,
    db: Arc<Db>,
}

impl Default for Store {
    /// An empty store on an in-memory database.
    fn default() -> Self {
        // An in-memory SQLite database opens unless memory is exhausted.
        let db = Db::memory().expect("an in-memory SQLite database opens");
        Store::on(db)
    }
}

impl Store {
    /// An empty store on `db` (call [`Store::load`] for its entities).
    fn on(db: Db) -> Store {
        Store {
            tables: Table::ALL.iter().map(|_| Collection::default()).collect(),
            next_seq: 0,
            db: Arc::new(db),
        }
    }

    /// A store on `db` with the entities it holds indexed.
    pub(crate) fn load(db: Db) -> Result<Store, StoreError> {
        let rows = db.entities()?;
        let mut store = Store::on(db);
        for row in rows {
            store.index(Change::Put {
                table: row.table,
                seq: row.seq,
                value: row.value,
            });
        }
        Ok(store)
    }

    /// The database.
    pub(crate) fn db(&self) -> &Arc<Db> {
        &self.db
    }

    /// The table.
    pub(crate) fn table(&self, t: Table) -> &Collection {
        &self.tables[t.index()]
    }

    /// A config kind's table.
    pub(crate) fn kind(&self, k: Kind) -> &Collection {
        self.table(Table::Config(k))
    }

    /// A new creation sequence number (strictly increasing).
    pub(crate) fn next_seq(&mut self) -> u64 {
        self.next_seq += 1;
        self.next_seq
    }

    /// Adds `changes` to the database's open transaction, then to the
    /// index; returns the ticket that [`Db::sync`] makes durable (None when
    /// there is nothing to write). On an error nothing changed.
    pub(crate) fn append(&mut self, changes: Vec<Change>) -> Result<Option<u64>, StoreError> {
        if changes.is_empty() {
            return Ok(None);
        }
        let ticket = self.db.append(&changes)?;
        for c in changes {
            self.index(c);
        }
        Ok(Some(ticket))
    }

    /// Applies one change, durably (tests and fixtures).
    #[cfg(test)]
    pub(crate) fn apply(&mut self, change: Change) {
        let t = self
            .append(vec![change])
            .expect("the test database takes the change");
        if let Some(t) = t {
            self.db.sync(t).expect("the test database commits");
        }
    }

    /// Updates the in-memory index for a change already in the database.
    fn index(&mut self, change: Change) {
        match change {
            Change::Put { table, seq, value } => {
                if let Some(t) = Table::from_name(&table) {
                    self.next_seq = self.next_seq.max(seq);
                    self.tables[t.index()].put(seq, value);
                }
            }
            Change::Delete { table, id } => {
                if let Some(t) = Table::from_name(&table) {
                    self.tables[t.index()].remove(&id);
                }
            }
            Change::Measurement { .. } => {}
        }
    }
}

/// Encodes a page cursor: the sequence number of the last entity returned.
pub fn encode_token(seq: u64) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(format!("seq:{seq}"))
}

/// Decodes a page cursor made by [`encode_token`].
pub(crate) fn decode_token(token: &str) -> ApiResult<u64> {
    base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(token.trim())
        .ok()
        .and_then(|b| String::from_utf8(b).ok())
        .and_then(|s| s.strip_prefix("seq:").and_then(|n| n.parse().ok()))
        .ok_or_else(|| {
            ApiError::bad_request(format!(
                "`nextToken` \"{token}\" is not a token this server issued; \
                 resend the request without it to start from the first page"
            ))
        })
}

/// One page of a list: the entities and the cursor of the next page.
pub(crate) fn page<'a>(
    entries: impl Iterator<Item = &'a Entry>,
    page_size: usize,
) -> (Vec<&'a Object>, Option<String>) {
    let mut data = Vec::with_capacity(page_size);
    let mut last_seq = 0;
    let mut more = false;
    for e in entries {
        if data.len() == page_size {
            more = true;
            break;
        }
        last_seq = e.seq;
        data.push(&e.value);
    }
    let token = more.then(|| encode_token(last_seq));
    (data, token)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn obj(v: Value) -> Object {
        v.as_object().cloned().unwrap_or_default()
    }

    #[test]
    fn pages_are_newest_first_and_tokens_survive_inserts() {
        let mut s = Store::default();
        for i in 0..5 {
            let seq = s.next_seq();
            s.apply(Change::Put {
                table: "products".into(),
                seq,
                value: obj(json!({"id": format!("p{i}"), "code": format!("c{i}")})),
            });
        }
        let t = s.kind(Kind::Product);
        let (first, tok) = page(t.iter_newest_first(), 2);
        let ids: Vec<_> = first.iter().map(|o| o["id"].clone()).collect();
        assert_eq!(ids, [json!("p4"), json!("p3")]);
        let before = decode_token(&tok.unwrap()).unwrap();
        let seq = s.next_seq();
        s.apply(Change::Put {
            table: "products".into(),
            seq,
            value: obj(json!({"id": "new", "code": "new"})),
        });
        let t = s.kind(Kind::Product);
        let (second, tok) = page(t.iter_before(before), 2);
        let ids: Vec<_> = second.iter().map(|o| o["id"].clone()).collect();
        assert_eq!(ids, [json!("p2"), json!("p1")]);
        assert!(tok.is_some());
        assert_eq!(t.id_by_code("new"), Some("new"));
    }

    #[test]
    fn there_is_a_table_per_kind_and_each_finds_itself() {
        for (i, t) in Table::ALL.into_iter().enumerate() {
            assert_eq!(t.index(), i);
            assert_eq!(Table::from_name(t.name()), Some(t));
        }
        for k in Kind::ALL {
            assert!(Table::ALL.contains(&Table::Config(k)), "{k}");
        }
    }

    #[test]
    fn bad_tokens_are_rejected() {
        assert!(decode_token("nope!").is_err());
        assert_eq!(decode_token(&encode_token(42)).unwrap(), 42);
    }
}
