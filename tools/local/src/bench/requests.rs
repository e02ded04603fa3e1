//! Every DynamoDB request the bench's clients make, read off the wire by an SDK interceptor (the JSON
//! each request and answer carried), and its cost by DynamoDB's documented rules, derived from those
//! requests: the items each one wrote or read, their sizes, and the index entries the writes touched.
//!
//! The rules (DynamoDB developer guide, "read and write capacity"): a write of an item costs 1 write
//! unit per KB of the item (rounded up), 2 inside a transaction; an update is costed at the larger of
//! the item before and after it; each global secondary index whose key attributes the item has is
//! written too, 1 unit per KB of the index entry (with `ALL` projected, the item), for a put, a delete,
//! and an update (it changes a projected attribute); a refused write still costs its units. A strongly
//! consistent read costs 1 read unit per 4 KB read (a Query sums its items before rounding), an
//! eventually consistent one half. The size of an item is the sum of its attribute names' and values'
//! sizes: a string or binary its bytes, a number about one byte per two significant digits plus one, a
//! boolean or null 1, a list or map 3 plus its elements (and a map's names) plus 1 per element.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};

use aws_smithy_runtime_api::box_error::BoxError;
use aws_smithy_runtime_api::client::interceptors::context::{
    AfterDeserializationInterceptorContextRef, BeforeTransmitInterceptorContextRef,
};
use aws_smithy_runtime_api::client::interceptors::Intercept;
use aws_smithy_runtime_api::client::runtime_components::RuntimeComponents;
use aws_smithy_types::config_bag::{ConfigBag, Storable, StoreReplace};
use serde_json::Value;
use ticketing_testkit::tables::IndexSpec;

/// What a request did to one item.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Action {
    Put,
    Update,
    Delete,
    Check,
    Read,
}

/// One item a request wrote or read: for a put the item, for a read each item answered, otherwise
/// its key.
#[derive(Clone, Debug, PartialEq)]
pub struct Touched {
    pub table: String,
    pub action: Action,
    pub item: serde_json::Map<String, Value>,
}

/// One request as it went over the wire.
#[derive(Clone, Debug, PartialEq)]
pub struct Request {
    /// `TransactWriteItems`, `GetItem`, …
    pub operation: String,
    pub touched: Vec<Touched>,
    pub consistent: bool,
    /// Refused by a condition or cancelled: no effect, but the units are charged.
    pub refused: bool,
}

impl Request {
    pub fn transactional(&self) -> bool {
        self.operation.starts_with("Transact")
    }

    pub fn writes(&self) -> bool {
        self.touched.iter().any(|t| t.action != Action::Read)
    }
}

/// The interceptor: attach it to a DynamoDB client's configuration; [`RequestLog::take`] hands the
/// requests made since the last take. Outside [`RequestLog::detailed`] it records each request's
/// operation and whether it was refused only, without reading the bodies: the load runs measure the
/// application, not the log.
#[derive(Clone, Debug, Default)]
pub struct RequestLog {
    requests: Arc<Mutex<Vec<Request>>>,
    detailed: Arc<std::sync::atomic::AtomicBool>,
}

/// The request part, kept in the request's own config bag until its answer arrives.
#[derive(Debug)]
struct Sent(Request);

impl Storable for Sent {
    type Storer = StoreReplace<Self>;
}

impl RequestLog {
    pub fn take(&self) -> Vec<Request> {
        std::mem::take(&mut *self.requests.lock().unwrap_or_else(|p| p.into_inner()))
    }

    /// Whether the items of each request (and of each answer) are recorded too.
    pub fn detailed(&self, on: bool) {
        self.detailed.store(on, std::sync::atomic::Ordering::Relaxed);
    }

    fn is_detailed(&self) -> bool {
        self.detailed.load(std::sync::atomic::Ordering::Relaxed)
    }
}

impl Intercept for RequestLog {
    fn name(&self) -> &'static str {
        "bench request log"
    }

    fn read_before_transmit(
        &self,
        context: &BeforeTransmitInterceptorContextRef<'_>,
        _: &RuntimeComponents,
        cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        let request = context.request();
        let operation = request
            .headers()
            .get("x-amz-target")
            .and_then(|t| t.rsplit('.').next())
            .unwrap_or("unknown")
            .to_owned();
        let body: Value = request
            .body()
            .bytes()
            .filter(|_| self.is_detailed())
            .and_then(|b| serde_json::from_slice(b).ok())
            .unwrap_or(Value::Null);
        let sent = Request {
            touched: written(&operation, &body),
            consistent: body["ConsistentRead"].as_bool().unwrap_or(false),
            operation,
            refused: false,
        };
        cfg.interceptor_state().store_put(Sent(sent));
        Ok(())
    }

    // After deserialization: the answer's body has been read into memory by then.
    fn read_after_deserialization(
        &self,
        context: &AfterDeserializationInterceptorContextRef<'_>,
        _: &RuntimeComponents,
        cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        let Some(Sent(sent)) = cfg.load::<Sent>() else {
            return Ok(());
        };
        let mut request = sent.clone();
        let response = context.response();
        // A refusal's type is in its body (small); an answer's items are read only in detail.
        let answer: Value = response
            .body()
            .bytes()
            .filter(|_| self.is_detailed() || !response.status().is_success())
            .and_then(|b| serde_json::from_slice(b).ok())
            .unwrap_or(Value::Null);
        if response.status().is_success() {
            request.touched.extend(read(&request.operation, &answer));
        } else {
            let kind = answer["__type"].as_str().unwrap_or_default();
            request.refused =
                kind.ends_with("TransactionCanceledException") || kind.ends_with("ConditionalCheckFailedException");
        }
        self.requests.lock().unwrap_or_else(|p| p.into_inner()).push(request);
        Ok(())
    }
}

fn object(v: &Value) -> serde_json::Map<String, Value> {
    v.as_object().cloned().unwrap_or_default()
}

fn one(table: &Value, action: Action, item: &Value) -> Touched {
    Touched {
        table: table.as_str().unwrap_or_default().to_owned(),
        action,
        item: object(item),
    }
}

/// The items a request writes, as it carries them.
fn written(operation: &str, body: &Value) -> Vec<Touched> {
    match operation {
        "TransactWriteItems" => body["TransactItems"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|entry| {
                let (kind, part) = object(entry).into_iter().next()?;
                let (action, item) = match kind.as_str() {
                    "Put" => (Action::Put, &part["Item"]),
                    "Update" => (Action::Update, &part["Key"]),
                    "Delete" => (Action::Delete, &part["Key"]),
                    _ => (Action::Check, &part["Key"]),
                };
                Some(one(&part["TableName"], action, item))
            })
            .collect(),
        "PutItem" => vec![one(&body["TableName"], Action::Put, &body["Item"])],
        "UpdateItem" => vec![one(&body["TableName"], Action::Update, &body["Key"])],
        "DeleteItem" => vec![one(&body["TableName"], Action::Delete, &body["Key"])],
        _ => Vec::new(),
    }
}

/// The items a successful read answered.
fn read(operation: &str, answer: &Value) -> Vec<Touched> {
    let items: Vec<&Value> = match operation {
        "GetItem" => answer.get("Item").into_iter().collect(),
        "Query" | "Scan" => answer["Items"].as_array().into_iter().flatten().collect(),
        _ => Vec::new(),
    };
    items
        .into_iter()
        .map(|item| Touched {
            table: String::new(),
            action: Action::Read,
            item: object(item),
        })
        .collect()
}

/// The size of an item by DynamoDB's rules, in bytes.
pub fn item_size(item: &serde_json::Map<String, Value>) -> usize {
    item.iter().map(|(name, value)| name.len() + value_size(value)).sum()
}

fn value_size(value: &Value) -> usize {
    let Some((kind, v)) = value.as_object().and_then(|o| o.iter().next()) else {
        return 0;
    };
    match kind.as_str() {
        "S" | "B" => v.as_str().map_or(0, str::len),
        "N" => number_size(v.as_str().unwrap_or("0")),
        "BOOL" | "NULL" => 1,
        "SS" | "BS" => v
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(Value::as_str)
            .map(str::len)
            .sum(),
        "NS" => v
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(Value::as_str)
            .map(number_size)
            .sum(),
        "L" => {
            3 + v
                .as_array()
                .into_iter()
                .flatten()
                .map(|e| value_size(e) + 1)
                .sum::<usize>()
        }
        "M" => {
            3 + v
                .as_object()
                .into_iter()
                .flatten()
                .map(|(name, e)| name.len() + value_size(e) + 1)
                .sum::<usize>()
        }
        _ => 0,
    }
}

/// A number: about one byte per two significant digits, plus one.
fn number_size(n: &str) -> usize {
    let digits: String = n.chars().filter(char::is_ascii_digit).collect();
    let significant = digits.trim_start_matches('0').trim_end_matches('0').len().max(1);
    significant.div_ceil(2) + 1
}

/// What the requests cost by the rules: write units (items, then indexes) and read units.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Cost {
    pub item_writes: f64,
    pub index_writes: f64,
    pub reads: f64,
}

impl Cost {
    pub fn writes(&self) -> f64 {
        self.item_writes + self.index_writes
    }
}

impl std::ops::AddAssign for Cost {
    fn add_assign(&mut self, other: Self) {
        self.item_writes += other.item_writes;
        self.index_writes += other.index_writes;
        self.reads += other.reads;
    }
}

/// The rules, with what they need besides the requests: the tables' indexes, and the size of the
/// items that updates and deletes name only by key.
pub struct Rules<'a> {
    pub indexes: &'a BTreeMap<String, Vec<IndexSpec>>,
    /// The size of an item by (table, key), as written or read during the run.
    pub sizes: &'a HashMap<(String, String), usize>,
}

const KB: usize = 1024;
const READ_UNIT: usize = 4 * KB;

/// The key of an item (the attributes `key_names`), as one comparable string.
pub fn key_string(item: &serde_json::Map<String, Value>, key_names: &[String]) -> String {
    key_names
        .iter()
        .map(|k| item.get(k).map_or(String::new(), Value::to_string))
        .collect::<Vec<_>>()
        .join("|")
}

impl Rules<'_> {
    /// The cost of one request; `key_names` gives each table's primary key attributes.
    pub fn cost(&self, request: &Request, key_names: &BTreeMap<String, Vec<String>>) -> Cost {
        let mut cost = Cost::default();
        let per_kb = if request.transactional() { 2.0 } else { 1.0 };
        let read_bytes: usize = request
            .touched
            .iter()
            .filter(|t| t.action == Action::Read)
            .map(|t| item_size(&t.item))
            .sum();
        if !request.writes() {
            let units = read_bytes.div_ceil(READ_UNIT).max(1) as f64;
            cost.reads = if request.consistent { units } else { units / 2.0 };
            return cost;
        }
        for t in request.touched.iter().filter(|t| t.action != Action::Read) {
            let keys = key_names.get(&t.table).map(Vec::as_slice).unwrap_or(&[]);
            let size = match t.action {
                Action::Put => item_size(&t.item),
                _ => self
                    .sizes
                    .get(&(t.table.clone(), key_string(&t.item, keys)))
                    .copied()
                    .unwrap_or_else(|| item_size(&t.item)),
            };
            let kbs = size.div_ceil(KB).max(1) as f64;
            if t.action == Action::Check {
                // A condition check reads the item, at the transactional price.
                cost.reads += 2.0 * size.div_ceil(READ_UNIT).max(1) as f64;
                continue;
            }
            cost.item_writes += per_kb * kbs;
            if request.refused {
                continue;
            }
            for index in self.indexes.get(&t.table).into_iter().flatten() {
                let has_keys = match t.action {
                    Action::Put => index.key_schema.iter().all(|k| t.item.contains_key(&k.attribute_name)),
                    // Every item of the tables with an index has its keys.
                    _ => true,
                };
                if has_keys {
                    cost.index_writes += kbs;
                }
            }
        }
        cost
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn map(v: Value) -> serde_json::Map<String, Value> {
        v.as_object().cloned().unwrap_or_default()
    }

    #[test]
    fn sizes_follow_the_documented_rules() {
        // "name" (4) + "ab" (2); "n" (1) + 12345 (3 digit pairs: 3 + 1); "l" (1) + [S "x", BOOL] (3 + 2 + 2).
        let item = map(json!({
            "name": {"S": "ab"},
            "n": {"N": "12345"},
            "l": {"L": [{"S": "x"}, {"BOOL": true}]}
        }));
        assert_eq!(item_size(&item), 6 + 5 + 8);
        assert_eq!(number_size("1800000000000"), 2);
        assert_eq!(number_size("-12.5"), 3);
    }

    #[test]
    fn a_transaction_costs_two_units_per_kb_and_its_index_writes_one() {
        let indexes = BTreeMap::from([(
            "bookings".to_owned(),
            vec![IndexSpec {
                index_name: "byUser".to_owned(),
                key_schema: vec![ticketing_testkit::tables::KeySpec {
                    attribute_name: "userId".to_owned(),
                    key_type: "HASH".to_owned(),
                }],
                projection: ticketing_testkit::tables::ProjectionSpec {
                    projection_type: "ALL".to_owned(),
                },
            }],
        )]);
        let sizes = HashMap::new();
        let rules = Rules {
            indexes: &indexes,
            sizes: &sizes,
        };
        let body = json!({"TransactItems": [
            {"Put": {"TableName": "bookings", "Item": {"bookingId": {"S": "b"}, "userId": {"S": "u"}}}},
            {"Put": {"TableName": "locks", "Item": {"seatId": {"S": "x".repeat(1500)}}}}
        ]});
        let request = Request {
            operation: "TransactWriteItems".to_owned(),
            touched: written("TransactWriteItems", &body),
            consistent: false,
            refused: false,
        };
        let cost = rules.cost(&request, &BTreeMap::new());
        assert_eq!((cost.item_writes, cost.index_writes), (2.0 + 4.0, 1.0));
    }

    #[test]
    fn reads_cost_by_4_kb_halved_when_eventually_consistent() {
        let rules = Rules {
            indexes: &BTreeMap::new(),
            sizes: &HashMap::new(),
        };
        let items: Vec<Value> = (0..50)
            .map(|i| json!({"seatId": {"S": format!("{i:0>100}")}}))
            .collect();
        let mut query = Request {
            operation: "Query".to_owned(),
            touched: read("Query", &json!({ "Items": items })),
            consistent: true,
            refused: false,
        };
        // 50 items of 106 bytes: 5,300 bytes, two read units.
        assert_eq!(rules.cost(&query, &BTreeMap::new()).reads, 2.0);
        query.consistent = false;
        assert_eq!(rules.cost(&query, &BTreeMap::new()).reads, 1.0);
    }
}
