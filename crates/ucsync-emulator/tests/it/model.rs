//! The built-in forms and the data generated from them.

use std::collections::BTreeMap;

use ucsync_emulator::cm::{FieldKind, Model, Translations};
use ucsync_ossi::wellknown::station;

#[test]
fn every_form_has_ten_fields_and_station_lists_the_real_sixteen() {
    let model = Model::builtin().unwrap();
    for f in &model.forms {
        assert!(
            f.fields.len() >= 10,
            "{} has {} fields",
            f.object_type,
            f.fields.len()
        );
    }
    let st = model.form("station").unwrap();
    assert_eq!(st.list, station::LIST.to_vec());
    for required in [
        "station",
        "agent-loginID",
        "hunt-group",
        "pickup-group",
        "coverage-path",
        "announcement",
        "vector",
        "vdn",
        "trunk-group",
        "signaling-group",
        "route-pattern",
        "ip-network-region",
        "system-parameters-special-applications",
        "system-parameters-features",
        "system-parameters-cdr",
        "system-parameters-customer-options",
        "system-parameters-security",
        "system-parameters-country-options",
        "system-parameters-maintenance",
        "dialplan-analysis",
        "cabinet",
        "board",
    ] {
        assert!(model.form(required).is_some(), "{required} missing");
    }
}

#[test]
fn same_seed_same_data_and_references_resolve() {
    let model = Model::builtin().unwrap();
    let counts = model.profile("small").unwrap();
    let a = Translations::generate(&model, &counts, 7, "R1").unwrap();
    let b = Translations::generate(&model, &counts, 7, "R1").unwrap();
    let c = Translations::generate(&model, &counts, 8, "R1").unwrap();
    let dump = |t: &Translations| format!("{:?}", t.forms);
    assert_eq!(dump(&a), dump(&b));
    assert_ne!(dump(&a), dump(&c));
    assert_eq!(
        a.counts(&model),
        counts
            .iter()
            .map(|(k, v)| (k.clone(), *v))
            .collect::<BTreeMap<_, _>>()
    );
    let mut refs = 0;
    for (fi, form) in model.forms.iter().enumerate() {
        let Some(objects) = a.keyed(fi) else { continue };
        for values in objects.values() {
            for (i, field) in form.fields.iter().enumerate() {
                if let FieldKind::Ref { form: target } = &field.kind {
                    if !values[i].is_empty() {
                        refs += 1;
                        let t = model.form_index(&target.replace(' ', "-")).unwrap();
                        assert!(
                            a.exists(t, &values[i]),
                            "{} {}: {} {} does not exist",
                            form.object_type,
                            field.name,
                            target,
                            values[i]
                        );
                    }
                }
            }
        }
    }
    assert!(refs > 300, "only {refs} references generated");
}
