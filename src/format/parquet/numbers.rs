//! Integer, decimal, dictionary and nested (list, map, struct) arrays: the
//! cases of the batch walk beyond plain strings.

use super::*;

/// Native integer types of the numeric columns, widened to `i128` for the
/// digit test and narrowed back for the replacement value.
pub(super) trait Wide: Copy + Default {
    fn to_wide(self) -> Option<i128>;
    fn from_wide(w: i128) -> Option<Self>;
}

impl Wide for i64 {
    fn to_wide(self) -> Option<i128> {
        Some(self.into())
    }
    fn from_wide(w: i128) -> Option<Self> {
        w.try_into().ok()
    }
}

impl Wide for u64 {
    fn to_wide(self) -> Option<i128> {
        Some(self.into())
    }
    fn from_wide(w: i128) -> Option<Self> {
        w.try_into().ok()
    }
}

/// The narrow integers: only verification codes fit in them.
macro_rules! wide_from_narrow {
    ($($t:ty),*) => {$(
        impl Wide for $t {
            fn to_wide(self) -> Option<i128> {
                Some(self.into())
            }
            fn from_wide(w: i128) -> Option<Self> {
                w.try_into().ok()
            }
        }
    )*};
}
wide_from_narrow!(i8, i16, i32, u8, u16, u32);

impl Wide for i128 {
    fn to_wide(self) -> Option<i128> {
        Some(self)
    }
    fn from_wide(w: i128) -> Option<Self> {
        Some(w)
    }
}

impl Wide for i256 {
    fn to_wide(self) -> Option<i128> {
        self.to_i128()
    }
    fn from_wide(w: i128) -> Option<Self> {
        Some(i256::from_i128(w))
    }
}

/// Integers and decimals holding a 13–19 digit PAN (decimals only when
/// the fraction is zero). Replaced by null where the field is nullable,
/// else by the digit-masked number.
pub(super) fn numbers<T: ArrowPrimitiveType>(
    v: &mut Visit,
    a: &PrimitiveArray<T>,
    scale: i8,
    path: &str,
    nullable: bool,
    rows: Rows,
) -> Result<Option<ArrayRef>, ArrowError>
where
    T::Native: Wide,
{
    let unit: i128 = match u32::try_from(scale) {
        Ok(s) if s <= 20 => 10i128.pow(s),
        _ => return Ok(None), // negative or huge scale: not a whole number
    };
    let mut replace: Vec<(usize, Option<T::Native>)> = Vec::new();
    for i in 0..a.len() {
        if a.is_null(i) {
            continue;
        }
        let Some(wide) = a.value(i).to_wide() else {
            continue;
        };
        if wide % unit != 0 {
            continue;
        }
        let Some((f, digits, n)) = v.number_cell(wide / unit) else {
            continue;
        };
        let allowed = v.cx.allows(path, &f);
        let as_ = if nullable {
            MaskedAs::Null
        } else {
            MaskedAs::Number
        };
        if v.masking && !allowed {
            let value = match as_ {
                MaskedAs::Null => None,
                _ => {
                    let m = v.cx.policy.mask_numeric(&f);
                    let masked: i128 = m.as_str().parse().unwrap_or(0);
                    T::Native::from_wide(masked * unit)
                }
            };
            replace.push((i, value));
        }
        v.record(path, rows.at(i), f, &digits[..n], as_);
    }
    if replace.is_empty() {
        return Ok(None);
    }
    with_values_replaced(a, replace).map(Some)
}

/// A copy of `a` with the values at the given indices replaced (`None`:
/// null), same data type.
pub(super) fn with_values_replaced<T: ArrowPrimitiveType>(
    a: &PrimitiveArray<T>,
    replace: Vec<(usize, Option<T::Native>)>,
) -> Result<ArrayRef, ArrowError> {
    let mut values: Vec<T::Native> = a.values().to_vec();
    let mut valid = BooleanBufferBuilder::new(a.len());
    match a.nulls() {
        Some(n) => valid.append_buffer(n.inner()),
        None => valid.append_n(a.len(), true),
    }
    for (i, value) in replace {
        match value {
            Some(x) => values[i] = x,
            None => {
                values[i] = T::Native::default();
                valid.set_bit(i, false);
            }
        }
    }
    let nulls = NullBuffer::new(valid.finish());
    let array = PrimitiveArray::<T>::try_new(ScalarBuffer::from(values), Some(nulls))?
        .with_data_type(a.data_type().clone());
    Ok(Arc::new(array))
}

/// 64-bit integers: PANs (13–19 digits), then codes when the column is
/// named for them.
pub(super) fn pans_and_codes<T: ArrowPrimitiveType>(
    v: &mut Visit,
    codes: bool,
    array: &ArrayRef,
    path: &str,
    nullable: bool,
    rows: Rows,
) -> Result<Option<ArrayRef>, ArrowError>
where
    T::Native: Wide,
{
    let pans = numbers(v, array.as_primitive::<T>(), 0, path, nullable, rows)?;
    and_codes::<T>(v, codes, array, pans, path, nullable, rows)
}

/// In a column named for a verification code, integer codes (see
/// [`Visit::code_number`]) on top of `pans` (the array with its PANs
/// already replaced, if any were). Codes become null where the field is
/// nullable, else 0.
pub(super) fn and_codes<T: ArrowPrimitiveType>(
    v: &mut Visit,
    codes: bool,
    array: &ArrayRef,
    pans: Option<ArrayRef>,
    path: &str,
    nullable: bool,
    rows: Rows,
) -> Result<Option<ArrayRef>, ArrowError>
where
    T::Native: Wide,
{
    if !codes {
        return Ok(pans);
    }
    let a = pans.as_ref().unwrap_or(array).as_primitive::<T>();
    let as_ = if nullable {
        MaskedAs::Null
    } else {
        MaskedAs::Number
    };
    let mut replace = Vec::new();
    for i in 0..a.len() {
        if a.is_null(i) {
            continue;
        }
        let Some((f, digits, n)) = a.value(i).to_wide().and_then(|w| v.code_number(w)) else {
            continue;
        };
        if v.masking && !v.cx.allows(path, &f) {
            replace.push((i, (!nullable).then(T::Native::default)));
        }
        v.record(path, rows.at(i), f, &digits[..n], as_);
    }
    if replace.is_empty() {
        return Ok(pans);
    }
    with_values_replaced(a, replace).map(Some)
}

/// Dictionary arrays: the values are scanned once, each finding is reported
/// for every row whose key points at it, and masking replaces the values
/// (keys unchanged, so the encoding stays a dictionary).
pub(super) fn dictionary(
    v: &mut Visit,
    array: &ArrayRef,
    path: &str,
    rows: Rows,
) -> Result<Option<ArrayRef>, ArrowError> {
    let d = array.as_any_dictionary();
    let mut inner = Visit::new(v.cx, v.masking);
    // A dictionary value may be unused or shared; integers inside are
    // masked as numbers (a null value would change what keys mean).
    let new_values = visit(&mut inner, d.values(), path, false, Rows::From(0))?;
    if !inner.found.is_empty() {
        let mut by_value: HashMap<u64, Vec<usize>> = HashMap::new();
        for (k, f) in inner.found.iter().enumerate() {
            by_value.entry(f.row).or_default().push(k);
        }
        let keys = d.normalized_keys();
        for (i, key) in keys.iter().enumerate() {
            if d.keys().is_null(i) {
                continue;
            }
            if let Some(hits) = by_value.get(&(*key as u64)) {
                for &k in hits {
                    let f = &inner.found[k];
                    let row = rows.at(i);
                    if row != u64::MAX {
                        v.found.push(CellFinding {
                            row,
                            leaf: v.leaf,
                            ..f.clone()
                        });
                    }
                }
            }
        }
    }
    Ok(new_values.map(|values| d.with_values(values)))
}

/// The owning row of each child element of a list.
pub(super) fn child_rows<O: OffsetSizeTrait>(
    offsets: &[O],
    child_len: usize,
    rows: Rows,
) -> Vec<u64> {
    let mut map = vec![u64::MAX; child_len];
    for i in 0..offsets.len().saturating_sub(1) {
        let (s, e) = (offsets[i].as_usize(), offsets[i + 1].as_usize());
        let row = rows.at(i);
        map[s.min(child_len)..e.min(child_len)].fill(row);
    }
    map
}

pub(super) fn list<O: OffsetSizeTrait>(
    v: &mut Visit,
    a: &GenericListArray<O>,
    field: &FieldRef,
    path: &str,
    rows: Rows,
) -> Result<Option<ArrayRef>, ArrowError> {
    let map = child_rows(a.value_offsets(), a.values().len(), rows);
    let Some(values) = visit(v, a.values(), path, field.is_nullable(), Rows::Map(&map))? else {
        return Ok(None);
    };
    let new = GenericListArray::<O>::try_new(
        field.clone(),
        a.offsets().clone(),
        values,
        a.nulls().cloned(),
    )?;
    Ok(Some(Arc::new(new)))
}

pub(super) fn fixed_list(
    v: &mut Visit,
    a: &FixedSizeListArray,
    field: &FieldRef,
    size: i32,
    path: &str,
    rows: Rows,
) -> Result<Option<ArrayRef>, ArrowError> {
    let k = size.max(1) as usize;
    let map: Vec<u64> = (0..a.values().len()).map(|j| rows.at(j / k)).collect();
    let Some(values) = visit(v, a.values(), path, field.is_nullable(), Rows::Map(&map))? else {
        return Ok(None);
    };
    let new = FixedSizeListArray::try_new(field.clone(), size, values, a.nulls().cloned())?;
    Ok(Some(Arc::new(new)))
}

pub(super) fn map(
    v: &mut Visit,
    a: &MapArray,
    field: &FieldRef,
    ordered: bool,
    path: &str,
    rows: Rows,
) -> Result<Option<ArrayRef>, ArrowError> {
    let entries = a.entries();
    let map = child_rows(a.value_offsets(), entries.len(), rows);
    let Some(new_entries) = structure(v, entries, path, Rows::Map(&map))? else {
        return Ok(None);
    };
    let new = MapArray::try_new(
        field.clone(),
        a.offsets().clone(),
        new_entries.as_struct().clone(),
        a.nulls().cloned(),
        ordered,
    )?;
    Ok(Some(Arc::new(new)))
}

pub(super) fn structure(
    v: &mut Visit,
    a: &StructArray,
    path: &str,
    rows: Rows,
) -> Result<Option<ArrayRef>, ArrowError> {
    let fields = a.fields().clone();
    let Some(columns) = visit_fields(v, &fields, a.columns(), Some(path), rows)? else {
        return Ok(None);
    };
    Ok(Some(Arc::new(StructArray::try_new(
        fields,
        columns,
        a.nulls().cloned(),
    )?)))
}
