//! Known HDF5 filter ids: what each is and who provides it, so a finding can say "filter 32015 (Zstandard),
//! provided by hdf5plugin" instead of a bare number. Ids 1-6 are built into HDF5 (szip and deflate only
//! when HDF5 was built with their libraries); the others are registered with The HDF Group and loaded as
//! plugins. Source: The HDF Group's registered filter list and the hdf5plugin package's filter table.

/// A filter h5doctor can name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KnownFilter {
    pub id: i32,
    pub name: &'static str,
    /// Where to get it.
    pub provider: &'static str,
}

const HDF5PLUGIN: &str = "hdf5plugin (pip install hdf5plugin)";

static FILTERS: &[KnownFilter] = &[
    KnownFilter {
        id: 1,
        name: "deflate (gzip)",
        provider: "HDF5 itself, when built with zlib",
    },
    KnownFilter {
        id: 2,
        name: "shuffle",
        provider: "HDF5 itself",
    },
    KnownFilter {
        id: 3,
        name: "fletcher32",
        provider: "HDF5 itself",
    },
    KnownFilter {
        id: 4,
        name: "szip",
        provider: "HDF5 itself, when built with szip or libaec",
    },
    KnownFilter {
        id: 5,
        name: "nbit",
        provider: "HDF5 itself",
    },
    KnownFilter {
        id: 6,
        name: "scaleoffset",
        provider: "HDF5 itself",
    },
    KnownFilter {
        id: 305,
        name: "LZO",
        provider: "PyTables",
    },
    KnownFilter {
        id: 307,
        name: "bzip2",
        provider: HDF5PLUGIN,
    },
    KnownFilter {
        id: 32000,
        name: "LZF",
        provider: "h5py (registered when h5py is imported; other programs need the LZF plugin)",
    },
    KnownFilter {
        id: 32001,
        name: "Blosc",
        provider: HDF5PLUGIN,
    },
    KnownFilter {
        id: 32002,
        name: "MAFISC",
        provider: "the MAFISC plugin",
    },
    KnownFilter {
        id: 32003,
        name: "Snappy",
        provider: "the Snappy plugin",
    },
    KnownFilter {
        id: 32004,
        name: "LZ4",
        provider: HDF5PLUGIN,
    },
    KnownFilter {
        id: 32008,
        name: "bitshuffle",
        provider: HDF5PLUGIN,
    },
    KnownFilter {
        id: 32013,
        name: "ZFP",
        provider: HDF5PLUGIN,
    },
    KnownFilter {
        id: 32014,
        name: "fpzip",
        provider: "the fpzip plugin",
    },
    KnownFilter {
        id: 32015,
        name: "Zstandard",
        provider: HDF5PLUGIN,
    },
    KnownFilter {
        id: 32017,
        name: "SZ",
        provider: HDF5PLUGIN,
    },
    KnownFilter {
        id: 32018,
        name: "FCIDECOMP",
        provider: HDF5PLUGIN,
    },
    KnownFilter {
        id: 32019,
        name: "JPEG",
        provider: "the JPEG plugin",
    },
    KnownFilter {
        id: 32020,
        name: "VBZ",
        provider: "the VBZ plugin (Oxford Nanopore)",
    },
    KnownFilter {
        id: 32024,
        name: "SZ3",
        provider: HDF5PLUGIN,
    },
    KnownFilter {
        id: 32026,
        name: "Blosc2",
        provider: HDF5PLUGIN,
    },
    KnownFilter {
        id: 32028,
        name: "SPERR",
        provider: HDF5PLUGIN,
    },
];

/// The known filter with this id.
pub fn lookup(id: i32) -> Option<&'static KnownFilter> {
    FILTERS.iter().find(|f| f.id == id)
}

/// `32015 Zstandard (provided by hdf5plugin (pip install hdf5plugin))`, or the name stored in the file.
pub fn describe(id: i32, name_in_file: &str) -> String {
    match lookup(id) {
        Some(f) => format!("{id} {} (provided by {})", f.name, f.provider),
        None if !name_in_file.is_empty() => {
            format!("{id} {name_in_file:?} (not a filter h5doctor knows; look it up in The HDF Group's filter registry)")
        }
        None => format!("{id} (not a filter h5doctor knows; look it up in The HDF Group's filter registry)"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_unique_and_described() {
        let mut ids: Vec<i32> = FILTERS.iter().map(|f| f.id).collect();
        ids.dedup();
        assert_eq!(ids.len(), FILTERS.len());
        assert!(describe(32015, "").contains("hdf5plugin"));
        assert!(describe(40000, "mine").contains("\"mine\""));
    }
}
