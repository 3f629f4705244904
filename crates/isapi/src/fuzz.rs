//! Shared proptest strategies for the property tests of every parser of terminal or Supabase
//! replies (this crate's tests, and the service's through the `fuzz-support` feature).

use proptest::prelude::*;
use serde_json::Value;

/// Any JSON value: `extra` leaves (biased towards what the code under test looks at) next to the
/// plain scalars, nested up to three levels in arrays and objects.
pub fn json_with(extra: BoxedStrategy<Value>, max_items: usize) -> impl Strategy<Value = Value> {
    // The biased leaves weigh as much as the plain scalars together.
    let leaf = prop_oneof![
        1 => Just(Value::Null),
        1 => any::<bool>().prop_map(Value::Bool),
        1 => any::<i64>().prop_map(Value::from),
        1 => any::<u64>().prop_map(Value::from),
        1 => any::<f64>().prop_map(Value::from),
        5 => extra,
    ];
    leaf.prop_recursive(3, 32, max_items as u32, move |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..max_items).prop_map(Value::Array),
            prop::collection::vec((".{0,8}", inner), 0..max_items)
                .prop_map(|kv| Value::Object(kv.into_iter().collect())),
        ]
    })
}
