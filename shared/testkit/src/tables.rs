//! The DynamoDB tables of `template.yaml`, created on DynamoDB Local from the template itself, so the
//! local tables cannot drift from the deployed ones.

use aws_sdk_dynamodb::types::{
    AttributeDefinition, BillingMode, GlobalSecondaryIndex, KeySchemaElement, KeyType, Projection, ProjectionType,
    ScalarAttributeType, StreamSpecification, StreamViewType,
};
use aws_sdk_dynamodb::Client;
use serde::Deserialize;
use std::collections::BTreeMap;
use std::path::Path;
use ticketing_aws::dynamodb::Tables;

#[derive(Debug, thiserror::Error)]
pub enum TablesError {
    #[error("cannot read {path}: {source}")]
    Read { path: String, source: std::io::Error },
    #[error("template.yaml: {0}")]
    Template(String),
    #[error("creating table {table}: {message}")]
    Create { table: String, message: String },
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct Template {
    resources: BTreeMap<String, Resource>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct Resource {
    #[serde(rename = "Type")]
    kind: String,
    #[serde(default)]
    properties: serde_norway::Value,
}

/// The parts of an `AWS::DynamoDB::Table` that shape the table.
#[derive(Clone, Debug, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "PascalCase")]
pub struct TableSpec {
    pub attribute_definitions: Vec<AttributeSpec>,
    pub key_schema: Vec<KeySpec>,
    #[serde(default)]
    pub global_secondary_indexes: Vec<IndexSpec>,
    #[serde(default)]
    pub stream_specification: Option<StreamSpec>,
}

#[derive(Clone, Debug, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "PascalCase")]
pub struct AttributeSpec {
    pub attribute_name: String,
    pub attribute_type: String,
}

#[derive(Clone, Debug, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "PascalCase")]
pub struct KeySpec {
    pub attribute_name: String,
    pub key_type: String,
}

#[derive(Clone, Debug, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "PascalCase")]
pub struct IndexSpec {
    pub index_name: String,
    pub key_schema: Vec<KeySpec>,
    pub projection: ProjectionSpec,
}

#[derive(Clone, Debug, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "PascalCase")]
pub struct ProjectionSpec {
    pub projection_type: String,
}

#[derive(Clone, Debug, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "PascalCase")]
pub struct StreamSpec {
    pub stream_view_type: String,
}

/// The template's tables by logical id (`BookingsTable`, …).
fn table_specs(template_path: &Path) -> Result<BTreeMap<String, TableSpec>, TablesError> {
    let text = std::fs::read_to_string(template_path).map_err(|source| TablesError::Read {
        path: template_path.display().to_string(),
        source,
    })?;
    let template: Template = serde_norway::from_str(&text).map_err(|e| TablesError::Template(e.to_string()))?;
    template
        .resources
        .into_iter()
        .filter(|(_, r)| r.kind == "AWS::DynamoDB::Table")
        .map(|(id, r)| {
            let spec =
                serde_norway::from_value(r.properties).map_err(|e| TablesError::Template(format!("{id}: {e}")))?;
            Ok((id, spec))
        })
        .collect()
}

/// Each table of the template as it shapes the table, by the table's name in `tables`.
pub fn specs(template_path: &Path, tables: &Tables) -> Result<BTreeMap<String, TableSpec>, TablesError> {
    let names = local_names(tables);
    Ok(table_specs(template_path)?
        .into_iter()
        .filter_map(|(id, spec)| Some((names.get(id.as_str())?.clone(), spec)))
        .collect())
}

/// The table name each logical id of the template gets, locally.
fn local_names(tables: &Tables) -> BTreeMap<&'static str, String> {
    BTreeMap::from([
        ("BookingsTable", tables.bookings.clone()),
        ("PaymentIntentsTable", tables.payment_intents.clone()),
        ("EventsTable", tables.events.clone()),
        ("LedgerEntriesTable", tables.ledger_entries.clone()),
        ("OccupiedSeatsTable", tables.occupied_seats.clone()),
        ("IdempotencyKeysTable", tables.idempotency_keys.clone()),
        ("UserSeatsTable", tables.user_seats.clone()),
        ("PerformancesTable", tables.performances.clone()),
    ])
}

fn key_schema(keys: &[KeySpec]) -> Result<Vec<KeySchemaElement>, String> {
    keys.iter()
        .map(|k| {
            KeySchemaElement::builder()
                .attribute_name(&k.attribute_name)
                .key_type(KeyType::from(k.key_type.as_str()))
                .build()
                .map_err(|e| e.to_string())
        })
        .collect()
}

async fn create_table(client: &Client, name: &str, spec: &TableSpec) -> Result<(), String> {
    let mut request = client
        .create_table()
        .table_name(name)
        .billing_mode(BillingMode::PayPerRequest);
    for a in &spec.attribute_definitions {
        request = request.attribute_definitions(
            AttributeDefinition::builder()
                .attribute_name(&a.attribute_name)
                .attribute_type(ScalarAttributeType::from(a.attribute_type.as_str()))
                .build()
                .map_err(|e| e.to_string())?,
        );
    }
    request = request.set_key_schema(Some(key_schema(&spec.key_schema)?));
    for index in &spec.global_secondary_indexes {
        request = request.global_secondary_indexes(
            GlobalSecondaryIndex::builder()
                .index_name(&index.index_name)
                .set_key_schema(Some(key_schema(&index.key_schema)?))
                .projection(
                    Projection::builder()
                        .projection_type(ProjectionType::from(index.projection.projection_type.as_str()))
                        .build(),
                )
                .build()
                .map_err(|e| e.to_string())?,
        );
    }
    if let Some(stream) = &spec.stream_specification {
        request = request.stream_specification(
            StreamSpecification::builder()
                .stream_enabled(true)
                .stream_view_type(StreamViewType::from(stream.stream_view_type.as_str()))
                .build()
                .map_err(|e| e.to_string())?,
        );
    }
    match request.send().await {
        Ok(_) => Ok(()),
        Err(e) if e.as_service_error().is_some_and(|s| s.is_resource_in_use_exception()) => Ok(()),
        Err(e) => Err(aws_sdk_dynamodb::error::DisplayErrorContext(e).to_string()),
    }
}

/// Creates every table of the template under its local name; tables that exist are left as they are.
pub async fn create_all(client: &Client, template_path: &Path, tables: &Tables) -> Result<(), TablesError> {
    let specs = table_specs(template_path)?;
    let names = local_names(tables);
    for (id, name) in &names {
        let spec = specs
            .get(*id)
            .ok_or_else(|| TablesError::Template(format!("no table {id}")))?;
        create_table(client, name, spec)
            .await
            .map_err(|message| TablesError::Create {
                table: name.clone(),
                message,
            })?;
    }
    if let Some(extra) = specs.keys().find(|id| !names.contains_key(id.as_str())) {
        return Err(TablesError::Template(format!("table {extra} has no local name")));
    }
    Ok(())
}

/// The workspace's `template.yaml`.
pub fn template_path() -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../template.yaml")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_template_has_the_tables_the_code_uses() {
        let specs = table_specs(&template_path()).expect("template parses");
        let names: Vec<&str> = specs.keys().map(String::as_str).collect();
        assert_eq!(
            names,
            [
                "BookingsTable",
                "EventsTable",
                "IdempotencyKeysTable",
                "LedgerEntriesTable",
                "OccupiedSeatsTable",
                "PaymentIntentsTable",
                "PerformancesTable",
                "UserSeatsTable"
            ]
        );
        assert_eq!(
            specs["PerformancesTable"].global_secondary_indexes[0].index_name,
            Tables::PERFORMANCES_BY_STATUS
        );
        let bookings = &specs["BookingsTable"];
        assert!(
            bookings.global_secondary_indexes.is_empty(),
            "bookings are keyed by customer"
        );
        assert_eq!(bookings.key_schema[0].attribute_name, "userId");
        assert_eq!(
            specs["EventsTable"].stream_specification,
            Some(StreamSpec {
                stream_view_type: "NEW_IMAGE".to_owned()
            })
        );
    }
}
