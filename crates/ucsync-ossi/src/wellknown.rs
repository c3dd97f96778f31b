//! Field ids every OSSI client and the emulator agree on.
//!
//! The station ids are those of real systems (see the OSSI reference); the
//! `display time` and `list history` ids are **[modelled]**: real ones are not
//! public, so both sides take them from here.

use crate::FieldId;

const fn fid(v: u32) -> FieldId {
    FieldId::from_u32(v)
}

pub mod station {
    use super::*;
    pub const EXTENSION: FieldId = fid(0x8005ff00);
    pub const TYPE: FieldId = fid(0x004fff00);
    pub const PORT: FieldId = fid(0x8004ff00);
    pub const NAME: FieldId = fid(0x8003ff00);
    pub const COR: FieldId = fid(0x8001ff00);
    pub const COS: FieldId = fid(0x8002ff00);
    pub const SECURITY_CODE: FieldId = fid(0x0016ff00);
    /// The 16 columns of `list station` on a real CM, in order.
    pub const LIST: [FieldId; 16] = [
        fid(0x8005ff00),
        fid(0x8004ff00),
        fid(0x8003ff00),
        fid(0x0031ff00),
        fid(0x8007ff00),
        fid(0x8001ff00),
        fid(0x0033ff00),
        fid(0x4e22ff00),
        fid(0x004fff00),
        fid(0x700dff00),
        fid(0x6a01ff00),
        fid(0x0019ff00),
        fid(0xce2aff00),
        fid(0x8002ff00),
        fid(0x4a3bff00),
        fid(0x0032ff00),
    ];
}

/// `display time`: the CM's own clock. **[modelled]**
pub mod time {
    use super::*;
    pub const YEAR: FieldId = fid(0x0c01ff00);
    pub const MONTH: FieldId = fid(0x0c02ff00);
    pub const DAY: FieldId = fid(0x0c03ff00);
    pub const HOUR: FieldId = fid(0x0c04ff00);
    pub const MINUTE: FieldId = fid(0x0c05ff00);
    pub const SECOND: FieldId = fid(0x0c06ff00);
    pub const DAY_OF_WEEK: FieldId = fid(0x0c07ff00);
    pub const ALL: [FieldId; 7] = [YEAR, MONTH, DAY, HOUR, MINUTE, SECOND, DAY_OF_WEEK];
}

/// `list history`: one record per logged command, newest first. **[modelled]**
pub mod history {
    use super::*;
    /// `mm/dd`, no year.
    pub const DATE: FieldId = fid(0x4e01ff00);
    /// `hh:mm`, minute resolution.
    pub const TIME: FieldId = fid(0x4e02ff00);
    pub const PORT: FieldId = fid(0x4e03ff00);
    pub const LOGIN: FieldId = fid(0x4e04ff00);
    /// The verb, cut to 4 characters.
    pub const ACTION: FieldId = fid(0x4e05ff00);
    /// The first word of the object, cut to 12 characters.
    pub const OBJECT: FieldId = fid(0x4e06ff00);
    /// The rest of the command, cut to 31 characters.
    pub const QUALIFIER: FieldId = fid(0x4e07ff00);
    pub const ALL: [FieldId; 7] = [DATE, TIME, PORT, LOGIN, ACTION, OBJECT, QUALIFIER];
    pub const ACTION_LEN: usize = 4;
    pub const OBJECT_LEN: usize = 12;
    pub const QUALIFIER_LEN: usize = 31;
}
