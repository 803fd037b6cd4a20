//! Hot-path rendering of HubSpot records straight into a byte buffer.

#[cfg(test)]
use crate::hubspot::props::Key;
use crate::hubspot::props::{Obj, ObjectType, PropDef, Val};
use crate::json;
use crate::world::World;

/// Writes a property value as HubSpot does: every value is a JSON string, or `null`.
#[inline]
pub(crate) fn push_val(out: &mut Vec<u8>, val: &Val<'_>) {
    match val {
        Val::Null => out.extend_from_slice(b"null"),
        Val::Str(s) => json::push_str(out, s),
        other => {
            out.push(b'"');
            push_val_body(out, other);
            out.push(b'"');
        }
    }
}

/// Writes the text of a non-null value without quotes (strings are escaped).
pub(crate) fn push_val_body(out: &mut Vec<u8>, val: &Val<'_>) {
    match *val {
        Val::Null => {}
        Val::Str(s) => json::push_str_body(out, s),
        Val::Int(n) => json::push_u64(out, n),
        Val::Cents(c) => json::push_decimal_cents(out, c),
        Val::DateTime(ms) => json::push_iso_millis_body(out, ms),
        Val::Date(ms) => json::push_date_body(out, ms),
        Val::Bool(b) => out.extend_from_slice(if b { b"true" } else { b"false" }),
    }
}

/// Writes `"id"` as a JSON string.
#[inline]
pub(crate) fn push_id(out: &mut Vec<u8>, id: u64) {
    out.push(b'"');
    json::push_u64(out, id);
    out.push(b'"');
}

/// Writes one record object: `{"id","properties","createdAt","updatedAt","archived"[,
/// "archivedAt"][,"associations"]}`.
pub(crate) fn push_record(
    out: &mut Vec<u8>,
    world: &World,
    obj: &Obj<'_>,
    props: &[&'static PropDef],
    associations: &[ObjectType],
) {
    out.extend_from_slice(b"{\"id\":");
    push_id(out, obj.id());
    out.extend_from_slice(b",\"properties\":{");
    for (i, def) in props.iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        out.push(b'"');
        out.extend_from_slice(def.name.as_bytes());
        out.extend_from_slice(b"\":");
        push_val(out, &obj.value(world, def.key));
    }
    out.extend_from_slice(b"},\"createdAt\":");
    json::push_iso_millis(out, obj.created_ms());
    out.extend_from_slice(b",\"updatedAt\":");
    json::push_iso_millis(out, obj.updated_ms());
    if obj.archived() {
        out.extend_from_slice(b",\"archived\":true,\"archivedAt\":");
        json::push_iso_millis(out, obj.updated_ms());
    } else {
        out.extend_from_slice(b",\"archived\":false");
    }
    if !associations.is_empty() {
        push_associations(out, world, obj, associations);
    }
    out.push(b'}');
}

fn push_associations(out: &mut Vec<u8>, world: &World, obj: &Obj<'_>, to: &[ObjectType]) {
    let from = match obj {
        Obj::Contact(_) => ObjectType::Contacts,
        Obj::Company(_) => ObjectType::Companies,
        Obj::Deal(_) => ObjectType::Deals,
    };
    let mut wrote_any = false;
    let mut ids = Vec::new();
    for &target in to {
        ids.clear();
        match (obj, target) {
            (Obj::Contact(p), ObjectType::Companies) => ids.push(p.company_id),
            (Obj::Contact(p), ObjectType::Deals) => ids.extend(
                world
                    .deals_of_person(p.index)
                    .iter()
                    .map(|&d| world.deals()[d as usize].id),
            ),
            (Obj::Company(c), ObjectType::Deals) => ids.extend(
                world
                    .deals()
                    .iter()
                    .filter(|d| d.company == c.index)
                    .map(|d| d.id),
            ),
            (Obj::Deal(d), ObjectType::Companies) => {
                ids.push(world.companies()[d.company as usize].id)
            }
            (Obj::Deal(d), ObjectType::Contacts) => {
                if let Some(p) = d.contact {
                    ids.push(crate::world::PERSON_ID_BASE + p);
                }
            }
            // Company -> contacts would need a scan of every person; not emulated.
            _ => {}
        }
        if ids.is_empty() {
            continue;
        }
        out.extend_from_slice(if wrote_any {
            b",\""
        } else {
            b",\"associations\":{\""
        });
        wrote_any = true;
        out.extend_from_slice(target.as_str().as_bytes());
        out.extend_from_slice(b"\":{\"results\":[");
        for (i, id) in ids.iter().enumerate() {
            if i > 0 {
                out.push(b',');
            }
            out.extend_from_slice(b"{\"id\":");
            push_id(out, *id);
            out.extend_from_slice(b",\"type\":\"");
            out.extend_from_slice(from.singular().as_bytes());
            out.extend_from_slice(b"_to_");
            out.extend_from_slice(target.singular().as_bytes());
            out.extend_from_slice(b"\"}");
        }
        out.extend_from_slice(b"]}");
    }
    if wrote_any {
        out.push(b'}');
    }
}

/// Resolves a `properties` selection (unknown names ignored; duplicates dropped) to the
/// definitions to render, in HubSpot's (alphabetical) order. `None` selects the defaults.
pub(crate) fn select_props(ty: ObjectType, names: Option<&[String]>) -> Vec<&'static PropDef> {
    match names {
        None => ty
            .props()
            .iter()
            .filter(|p| ty.default_props().contains(&p.key))
            .collect(),
        Some(names) => ty
            .props()
            .iter()
            .filter(|p| names.iter().any(|n| n == p.name))
            .collect(),
    }
}

/// Default-selected keys are kept in definition order; this is used by tests.
#[cfg(test)]
pub(crate) fn keys(props: &[&'static PropDef]) -> Vec<Key> {
    props.iter().map(|p| p.key).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::world::WorldConfig;

    #[test]
    fn contact_record_shape_and_size() {
        let world = World::new(WorldConfig::default());
        let all: Vec<&'static PropDef> = ObjectType::Contacts.props().iter().collect();
        let mut sizes = Vec::new();
        for i in 0..200 {
            let mut out = Vec::new();
            let obj = Obj::Contact(world.person(i).unwrap());
            push_record(&mut out, &world, &obj, &all, &[]);
            let v: serde_json::Value = serde_json::from_slice(&out).unwrap();
            assert!(v["id"].is_string());
            for (_, pv) in v["properties"].as_object().unwrap() {
                assert!(pv.is_string() || pv.is_null());
            }
            sizes.push(out.len());
        }
        let avg = sizes.iter().sum::<usize>() / sizes.len();
        assert!((480..650).contains(&avg), "average contact size {avg}");
        let defaults = select_props(ObjectType::Contacts, None);
        assert_eq!(keys(&defaults).len(), 6);
        let picked = select_props(
            ObjectType::Contacts,
            Some(&["email".to_string(), "nope".to_string(), "email".to_string()]),
        );
        assert_eq!(keys(&picked), vec![Key::Email]);
    }

    /// Render-only throughput (no HTTP). `cargo test -p revline-sandbox --release --lib --
    /// --ignored --nocapture render_throughput`.
    #[test]
    #[ignore = "benchmark; run explicitly in release mode"]
    fn render_throughput() {
        let world = World::new(WorldConfig {
            people: 1_000_000,
            ..WorldConfig::default()
        });
        let all: Vec<&'static PropDef> = ObjectType::Contacts.props().iter().collect();
        let start = std::time::Instant::now();
        let mut bytes = 0;
        let mut out = Vec::with_capacity(100 * 700);
        for page in 0..10_000u64 {
            out.clear();
            for i in 0..100 {
                let obj = Obj::Contact(world.person(page * 100 + i).unwrap());
                push_record(&mut out, &world, &obj, &all, &[]);
            }
            bytes += out.len();
        }
        let secs = start.elapsed().as_secs_f64();
        println!(
            "render: 1,000,000 contacts in {secs:.2}s = {:.0} records/s, {} bytes/record",
            1e6 / secs,
            bytes / 1_000_000
        );
    }
}
