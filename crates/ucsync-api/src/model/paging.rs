//! Paging: which page of a list a request asks for, checked, and the page
//! bodies, one per item type, made by `page!`.

use serde::{Deserialize, Serialize};
use utoipa::IntoParams;

use super::FieldError;

/// The default page size.
pub const DEFAULT_LIMIT: u64 = 50;
/// The largest page.
pub const MAX_LIMIT: u64 = 1000;

/// Which page of a list.
#[derive(Debug, Clone, Copy, Default, Serialize, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct PageQuery {
    /// Items to skip (default 0).
    #[param(minimum = 0, maximum = 9223372036854775807_u64)]
    pub offset: Option<u64>,
    /// Items per page: 1 to 1000 (default 50).
    #[param(minimum = 1, maximum = 1000)]
    pub limit: Option<u64>,
}

/// A checked page: where it starts and how many items it holds at most.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Paging {
    pub offset: u64,
    pub limit: u64,
}

/// The largest offset: the databases count rows in signed 64 bits.
pub const MAX_OFFSET: u64 = i64::MAX as u64;

impl PageQuery {
    pub fn parse(self) -> Result<Paging, FieldError> {
        let offset = self.offset.unwrap_or(0);
        if offset > MAX_OFFSET {
            return Err(FieldError::new(
                "offset",
                format!("offset must be at most {MAX_OFFSET}, not {offset}"),
            ));
        }
        let limit = self.limit.unwrap_or(DEFAULT_LIMIT);
        if !(1..=MAX_LIMIT).contains(&limit) {
            return Err(FieldError::new(
                "limit",
                format!("limit must be from 1 to {MAX_LIMIT}, not {limit}"),
            ));
        }
        Ok(Paging { offset, limit })
    }
}

impl Paging {
    /// The page of a list held in full.
    pub fn slice<T: Clone>(&self, all: &[T]) -> Vec<T> {
        all.iter()
            .skip(usize::try_from(self.offset).unwrap_or(usize::MAX))
            .take(usize::try_from(self.limit).unwrap_or(usize::MAX))
            .cloned()
            .collect()
    }
}

/// A page type per item type: named schemas the CLI and the OpenAPI
/// document can both refer to.
macro_rules! page {
    ($page:ident, $item:ty, $doc:literal) => {
        #[doc = $doc]
        #[derive(
            Debug, Clone, PartialEq, ::serde::Serialize, ::serde::Deserialize, ::utoipa::ToSchema,
        )]
        pub struct $page {
            pub items: Vec<$item>,
            pub offset: u64,
            pub limit: u64,
            /// All items of the list, where counting them is cheap.
            #[serde(default, skip_serializing_if = "Option::is_none")]
            pub total: Option<u64>,
        }
    };
}

pub(crate) use page;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paging_bounds() {
        assert_eq!(
            PageQuery::default().parse().unwrap(),
            Paging {
                offset: 0,
                limit: 50
            }
        );
        assert!(
            PageQuery {
                offset: None,
                limit: Some(0)
            }
            .parse()
            .is_err()
        );
        assert!(
            PageQuery {
                offset: None,
                limit: Some(1001)
            }
            .parse()
            .is_err()
        );
        // The databases count in i64: past it is refused, not wrapped.
        let past = PageQuery {
            offset: Some(MAX_OFFSET + 1),
            limit: None,
        };
        assert_eq!(past.parse().unwrap_err().field, "offset");
        let last = PageQuery {
            offset: Some(MAX_OFFSET),
            limit: None,
        };
        assert_eq!(last.parse().unwrap().offset, MAX_OFFSET);
        let p = Paging {
            offset: 1,
            limit: 2,
        };
        assert_eq!(p.slice(&[1, 2, 3, 4]), vec![2, 3]);
    }
}
