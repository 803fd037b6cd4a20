//! Column types from `GET /crm/v3/properties/{object}`.

use revline_core::http::{ApiRequest, HttpClient};
use revline_core::{Column, ColumnType, Error, ErrorKind, Result};
use serde::Deserialize;

/// One property definition as HubSpot lists it.
#[derive(Debug, Clone, Deserialize)]
pub struct PropertyDef {
    /// Internal name (`lastmodifieddate`).
    pub name: String,
    /// HubSpot type: `string`, `number`, `datetime`, `date`, `bool`, `enumeration`, ...
    #[serde(rename = "type")]
    pub kind: String,
    /// Field type (`booleancheckbox`, `select`, ...).
    #[serde(default, rename = "fieldType")]
    pub field_type: String,
}

#[derive(Deserialize)]
struct PropertiesPage {
    results: Vec<PropertyDef>,
}

/// The column type for a HubSpot property type.
///
/// `number` is a 64-bit float (amounts can have cents), except record ids (`hs_object_id`,
/// `associatedcompanyid`, names ending in `_id`), which are integers;
/// `datetime` is a UTC timestamp; `date` a date; `bool` and boolean-checkbox enumerations are
/// booleans; everything else (`string`, `enumeration`, `phone_number`, `json`) is text.
pub fn column_type(def: &PropertyDef) -> ColumnType {
    match def.kind.as_str() {
        "number" if is_id_property(&def.name) => ColumnType::Int64,
        "number" => ColumnType::Float64,
        "datetime" => ColumnType::Timestamp,
        "date" => ColumnType::Date,
        "bool" => ColumnType::Boolean,
        "enumeration" if def.field_type == "booleancheckbox" => ColumnType::Boolean,
        _ => ColumnType::Utf8,
    }
}

/// Number properties that hold record ids.
fn is_id_property(name: &str) -> bool {
    name == "hs_object_id"
        || name.ends_with("_id")
        || ["companyid", "contactid", "dealid", "ownerid"]
            .iter()
            .any(|s| name.ends_with(s))
}

/// A property column: named by its internal name, read from `properties.<name>`.
pub fn property_column(name: &str, ty: ColumnType) -> Column {
    Column {
        name: name.to_string(),
        path: vec!["properties".to_string(), name.to_string()],
        ty,
        epoch: Default::default(),
    }
}

/// Lists an object's properties. Errors other than authentication are returned as
/// [`ErrorKind::Api`]-like errors the caller may fall back from.
pub async fn fetch_properties(client: &HttpClient, object: &str) -> Result<Vec<PropertyDef>> {
    let req = ApiRequest::get(client.url(&format!("/crm/v3/properties/{object}")));
    let resp = client.execute(&req).await?;
    let page: PropertiesPage = serde_json::from_slice(&resp.body).map_err(|e| {
        Error::new(
            ErrorKind::Decode,
            format!("the properties of `{object}` could not be read"),
        )
        .with_source(e)
    })?;
    Ok(page.results)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn def(name: &str, kind: &str, field_type: &str) -> PropertyDef {
        PropertyDef {
            name: name.into(),
            kind: kind.into(),
            field_type: field_type.into(),
        }
    }

    #[test]
    fn hubspot_types_map_to_columns() {
        assert_eq!(
            column_type(&def("amount", "number", "number")),
            ColumnType::Float64
        );
        assert_eq!(
            column_type(&def("hs_object_id", "number", "number")),
            ColumnType::Int64
        );
        assert_eq!(
            column_type(&def("closedate", "datetime", "date")),
            ColumnType::Timestamp
        );
        assert_eq!(
            column_type(&def("trial_start_date", "date", "date")),
            ColumnType::Date
        );
        assert_eq!(
            column_type(&def("hs_email_optout", "bool", "booleancheckbox")),
            ColumnType::Boolean
        );
        assert_eq!(
            column_type(&def("x", "enumeration", "booleancheckbox")),
            ColumnType::Boolean
        );
        assert_eq!(
            column_type(&def("lifecyclestage", "enumeration", "radio")),
            ColumnType::Utf8
        );
        assert_eq!(
            column_type(&def("phone", "phone_number", "phonenumber")),
            ColumnType::Utf8
        );
        let c = property_column("email", ColumnType::Utf8);
        assert_eq!(c.path, vec!["properties", "email"]);
    }
}
