//! One walk over a decoded batch: every string, binary and nested cell is
//! scanned, findings are recorded with their column path and row, and when
//! masking, replacement arrays are built.

use super::*;

/// Row numbers of the elements of an array: the batch's rows at top
/// level, the owning row for list elements. `u64::MAX` marks an element
/// that no row reaches (hidden by offsets); it is masked, not reported.
#[derive(Clone, Copy)]
pub(super) enum Rows<'a> {
    From(u64),
    Map(&'a [u64]),
}

impl Rows<'_> {
    pub(super) fn at(&self, i: usize) -> u64 {
        match self {
            Rows::From(first) => first + i as u64,
            Rows::Map(m) => m.get(i).copied().unwrap_or(u64::MAX),
        }
    }
}

/// One walk over a batch: findings, and when masking, replacement arrays.
pub(super) struct Visit<'a> {
    pub(super) cx: &'a Cx<'a>,
    pub(super) masking: bool,
    pub(super) found: Vec<CellFinding>,
    pub(super) leaf: usize,
    /// The array being visited is named for a verification code (`cvv`,
    /// `Card_CVV__c`): its short digit values are codes.
    pub(super) codes: bool,
}

impl<'a> Visit<'a> {
    pub(super) fn new(cx: &'a Cx<'a>, masking: bool) -> Visit<'a> {
        Visit {
            cx,
            masking,
            found: Vec::new(),
            leaf: 0,
            codes: false,
        }
    }

    pub(super) fn sorted(mut self) -> Vec<CellFinding> {
        self.found
            .sort_by_key(|f| (f.row, f.leaf, f.located.finding.offset));
        self.found
    }

    pub(super) fn record(
        &mut self,
        column: &str,
        row: u64,
        finding: Finding,
        cell: &[u8],
        as_: MaskedAs,
    ) {
        if row == u64::MAX {
            return;
        }
        let before = &cell[..finding.offset as usize];
        let line = 1 + bytecount::count(before, b'\n') as u64;
        let line_start = memchr::memrchr(b'\n', before).map_or(0, |i| i + 1);
        self.found.push(CellFinding {
            column: column.to_string(),
            row,
            located: Located {
                finding,
                line,
                column: (before.len() - line_start) as u64 + 1,
                record: None,
            },
            masked_as: as_,
            leaf: self.leaf,
        });
    }

    /// Scans one string/binary cell; returns the masks to apply (offset in
    /// the cell, replacement) when masking.
    pub(super) fn text_cell(
        &mut self,
        column: &str,
        row: u64,
        cell: &[u8],
        edits: &mut Vec<(usize, Masked)>,
    ) {
        if self.codes {
            if let Some(f) = self.cx.det.code_cell(cell, 0) {
                if self.masking && !self.cx.allows(column, &f) {
                    edits.push((0, self.cx.policy.mask(&f)));
                }
                self.record(column, row, f, cell, MaskedAs::Text);
                return;
            }
        }
        if cell.len() < MIN_FINDING {
            return;
        }
        let mut found = Vec::new();
        self.cx
            .det
            .find_window(cell, 0, 0, cell.len(), &mut |f| found.push(f));
        for f in found {
            if self.masking && !self.cx.allows(column, &f) {
                edits.push((f.offset as usize, self.cx.policy.mask(&f)));
            }
            self.record(column, row, f, cell, MaskedAs::Text);
        }
    }

    /// A verification code held as an integer in a column named for one:
    /// 1 to 9999 (a code that began with 0 lost it), as the finding for its
    /// digits padded to three. 0 is what a scrub writes, so it is no code.
    pub(super) fn code_number(&self, value: i128) -> Option<(Finding, [u8; 4], usize)> {
        if !(1..=9999).contains(&value) {
            return None;
        }
        let text = format!("{value:03}");
        let mut digits = [0u8; 4];
        digits[..text.len()].copy_from_slice(text.as_bytes());
        let f = self.cx.det.code_cell(&digits[..text.len()], 0)?;
        Some((f, digits, text.len()))
    }

    /// A PAN held as a number: the finding for its decimal digits.
    pub(super) fn number_cell(&self, value: i128) -> Option<(Finding, [u8; 19], usize)> {
        // 13 to 19 digits; everything else (ids, counts, amounts) is
        // rejected here without formatting it.
        if !(1_000_000_000_000..10_000_000_000_000_000_000).contains(&value) {
            return None;
        }
        let mut digits = [0u8; 19];
        let mut n = 0;
        let mut rest = value;
        while rest > 0 {
            digits[n] = b'0' + (rest % 10) as u8;
            rest /= 10;
            n += 1;
        }
        digits[..n].reverse();
        let mut f = None;
        self.cx
            .det
            .find_window(&digits[..n], 0, 0, n, &mut |x| f = Some(x));
        f.filter(|x| x.len() == n).map(|x| (x, digits, n))
    }
}

/// Visits every column of a batch; `Some` when a column was replaced.
pub(super) fn visit_batch(
    v: &mut Visit,
    batch: &RecordBatch,
    first_row: u64,
) -> Result<Option<RecordBatch>, ArrowError> {
    let schema = batch.schema();
    let rows = Rows::From(first_row);
    match visit_fields(v, schema.fields(), batch.columns(), None, rows)? {
        Some(columns) => RecordBatch::try_new(schema, columns).map(Some),
        None => Ok(None),
    }
}

/// Visits the columns of a batch or the children of a struct (`parent` is
/// the struct's path); `Some(columns)` when one of them was replaced.
pub(super) fn visit_fields(
    v: &mut Visit,
    fields: &arrow_schema::Fields,
    columns: &[ArrayRef],
    parent: Option<&str>,
    rows: Rows,
) -> Result<Option<Vec<ArrayRef>>, ArrowError> {
    let mut changed = false;
    let mut out = Vec::with_capacity(columns.len());
    for (f, col) in fields.iter().zip(columns) {
        let path = match parent {
            Some(p) => child_path(p, f.name()),
            None => f.name().clone(),
        };
        match visit(v, col, &path, f.is_nullable(), rows)? {
            Some(new) => {
                changed = true;
                out.push(new);
            }
            None => out.push(col.clone()),
        }
    }
    Ok(changed.then_some(out))
}

pub(super) fn child_path(path: &str, name: &str) -> String {
    format!("{path}.{name}")
}

/// Visits one array; `Some(replacement)` when masking changed it.
pub(super) fn visit(
    v: &mut Visit,
    array: &ArrayRef,
    path: &str,
    nullable: bool,
    rows: Rows,
) -> Result<Option<ArrayRef>, ArrowError> {
    // Set on entry: children of a list (same path) or struct (their own
    // path) set it again for themselves. With `--pan-only` the detector
    // reports no codes, whatever the column.
    let leaf_name = path.rsplit('.').next().unwrap_or(path);
    v.codes = is_code_column(leaf_name);
    let codes = v.codes;
    let out = match array.data_type() {
        DataType::Utf8 => bytes(v, array.as_string::<i32>(), path, rows)?,
        DataType::LargeUtf8 => bytes(v, array.as_string::<i64>(), path, rows)?,
        DataType::Binary => bytes(v, array.as_binary::<i32>(), path, rows)?,
        DataType::LargeBinary => bytes(v, array.as_binary::<i64>(), path, rows)?,
        DataType::Utf8View => {
            let a = array.as_string_view();
            views(
                v,
                a.len(),
                |i| a.is_valid(i).then(|| a.value(i).as_bytes()),
                path,
                rows,
            )
            .map(|cells| {
                let strings = cells
                    .iter()
                    .map(|c| c.as_ref().map(|b| String::from_utf8_lossy(b).into_owned()));
                Arc::new(arrow_array::StringViewArray::from_iter(strings)) as ArrayRef
            })
        }
        DataType::BinaryView => {
            let a = array.as_binary_view();
            views(
                v,
                a.len(),
                |i| a.is_valid(i).then(|| a.value(i)),
                path,
                rows,
            )
            .map(|cells| Arc::new(arrow_array::BinaryViewArray::from_iter(cells)) as ArrayRef)
        }
        DataType::Dictionary(_, _) => dictionary(v, array, path, rows)?,
        DataType::List(field) => list(v, array.as_list::<i32>(), field, path, rows)?,
        DataType::LargeList(field) => list(v, array.as_list::<i64>(), field, path, rows)?,
        DataType::FixedSizeList(field, size) => {
            fixed_list(v, array.as_fixed_size_list(), field, *size, path, rows)?
        }
        DataType::Map(field, ordered) => map(v, array.as_map(), field, *ordered, path, rows)?,
        DataType::Struct(_) => structure(v, array.as_struct(), path, rows)?,
        DataType::Int64 => pans_and_codes::<Int64Type>(v, codes, array, path, nullable, rows)?,
        DataType::UInt64 => pans_and_codes::<UInt64Type>(v, codes, array, path, nullable, rows)?,
        DataType::Int32 => and_codes::<Int32Type>(v, codes, array, None, path, nullable, rows)?,
        DataType::UInt32 => and_codes::<UInt32Type>(v, codes, array, None, path, nullable, rows)?,
        DataType::Int16 => and_codes::<Int16Type>(v, codes, array, None, path, nullable, rows)?,
        DataType::UInt16 => and_codes::<UInt16Type>(v, codes, array, None, path, nullable, rows)?,
        DataType::Int8 => and_codes::<Int8Type>(v, codes, array, None, path, nullable, rows)?,
        DataType::UInt8 => and_codes::<UInt8Type>(v, codes, array, None, path, nullable, rows)?,
        DataType::Decimal64(_, scale) => {
            let a = array.as_primitive::<Decimal64Type>();
            numbers(v, a, *scale, path, nullable, rows)?
        }
        DataType::Decimal128(_, scale) => {
            let a = array.as_primitive::<Decimal128Type>();
            numbers(v, a, *scale, path, nullable, rows)?
        }
        DataType::Decimal256(_, scale) => {
            let a = array.as_primitive::<Decimal256Type>();
            numbers(v, a, *scale, path, nullable, rows)?
        }
        // Other types cannot hold a 13–19 digit number as ASCII or
        // integer, nor a code as digits.
        _ => None,
    };
    v.leaf += 1;
    Ok(out)
}

/// String and binary arrays (offsets into one data buffer): masks are
/// written into a copy of the data buffer; offsets and nulls are shared.
pub(super) fn bytes<T: ByteArrayType>(
    v: &mut Visit,
    a: &GenericByteArray<T>,
    path: &str,
    rows: Rows,
) -> Result<Option<ArrayRef>, ArrowError> {
    let offsets = a.value_offsets();
    let data = a.value_data();
    let mut edits: Vec<(usize, Masked)> = Vec::new();
    for i in 0..a.len() {
        if a.is_null(i) {
            continue;
        }
        let (s, e) = (offsets[i].as_usize(), offsets[i + 1].as_usize());
        let before = edits.len();
        v.text_cell(path, rows.at(i), &data[s..e], &mut edits);
        for edit in &mut edits[before..] {
            edit.0 += s;
        }
    }
    if edits.is_empty() {
        return Ok(None);
    }
    let mut new = data.to_vec();
    for (at, m) in edits {
        new[at..at + m.as_bytes().len()].copy_from_slice(m.as_bytes());
    }
    let array = GenericByteArray::<T>::try_new(
        a.offsets().clone(),
        Buffer::from_vec(new),
        a.nulls().cloned(),
    )?;
    Ok(Some(Arc::new(array)))
}

/// View arrays (values inline or in shared buffers): rebuilt value by value
/// when something was masked. `cell(i)` is `None` for a null.
pub(super) fn views<'c>(
    v: &mut Visit,
    len: usize,
    cell: impl Fn(usize) -> Option<&'c [u8]>,
    path: &str,
    rows: Rows,
) -> Option<Vec<Option<Vec<u8>>>> {
    let mut edited: Vec<(usize, Vec<(usize, Masked)>)> = Vec::new();
    for i in 0..len {
        if let Some(c) = cell(i) {
            let mut edits = Vec::new();
            v.text_cell(path, rows.at(i), c, &mut edits);
            if !edits.is_empty() {
                edited.push((i, edits));
            }
        }
    }
    if edited.is_empty() {
        return None;
    }
    let mut cells: Vec<Option<Vec<u8>>> = (0..len).map(|i| cell(i).map(<[u8]>::to_vec)).collect();
    for (i, edits) in edited {
        if let Some(c) = cells[i].as_mut() {
            for (at, m) in edits {
                c[at..at + m.as_bytes().len()].copy_from_slice(m.as_bytes());
            }
        }
    }
    Some(cells)
}
