//! The library every TaskifAI function is built on, one folder per area. Dependencies point one
//! way, from the bottom of this list to the top of it being used by what comes after:
//!
//! | area | for |
//! |---|---|
//! | [`domain`] | validated newtypes and records; no I/O |
//! | [`platform`] | typed configuration, telemetry, AWS SDK configuration |
//! | [`security`] | passwords, signed tokens, throttling |
//! | [`store`] | one narrow interface per external system (registry, secrets, mail, audit, PostgreSQL) |
//! | [`tenancy`] | a request's tenant, its secret and its database connection |
//! | [`identity`] | tenant sign-in and users, signing keys, platform admins |
//! | [`control_plane`] | provisioning and the tenant lifecycle |
//! | [`ingest`] | uploaded sales files into the tenant database |
//! | [`analytics`] | sales analytics from the rollups |
//! | [`web`] | HTTP: hosts, routes, the one mapping of errors to responses, the API contract |
//!
//! Functions only wire these together.

pub mod analytics;
pub mod control_plane;
pub mod domain;
pub mod identity;
pub mod ingest;
pub mod platform;
pub mod security;
pub mod store;
pub mod tenancy;
pub mod web;

pub use web::error::ApiError;

/// The architecture above, checked: areas depend only on areas before them in [`LAYERS`], and
/// no module imports one that imports it back.
#[cfg(test)]
mod layers {
    use std::collections::{BTreeMap, BTreeSet};
    use std::path::Path;

    /// Bottom first: each area may use the ones before it.
    const LAYERS: [&str; 10] = [
        "domain",
        "platform",
        "store",
        "security",
        "tenancy",
        "identity",
        "control_plane",
        "ingest",
        "analytics",
        "web",
    ];

    /// Module path (`tenancy::context`) → the modules its non-test code names.
    fn imports() -> BTreeMap<String, BTreeSet<String>> {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
        let mut out = BTreeMap::new();
        let mut stack = vec![root.clone()];
        while let Some(dir) = stack.pop() {
            for entry in std::fs::read_dir(&dir).expect("src is readable") {
                let path = entry.expect("entry").path();
                if path.is_dir() {
                    stack.push(path);
                    continue;
                }
                let rel = path.strip_prefix(&root).expect("under src");
                let module = rel
                    .with_extension("")
                    .to_string_lossy()
                    .replace('/', "::")
                    .trim_end_matches("::mod")
                    .to_owned();
                if module == "lib" {
                    continue;
                }
                let text = std::fs::read_to_string(&path).expect("source is readable");
                let code = text.split("#[cfg(test)]").next().unwrap_or_default();
                let named = code
                    .match_indices("crate::")
                    .map(|(i, _)| {
                        code[i + 7..]
                            .split(|c: char| !(c.is_alphanumeric() || c == '_' || c == ':'))
                            .next()
                            .unwrap_or_default()
                            .split("::")
                            .take_while(|s| s.chars().next().is_some_and(char::is_lowercase))
                            .collect::<Vec<_>>()
                            .join("::")
                    })
                    .filter(|m| !m.is_empty() && *m != module)
                    .collect();
                out.insert(module, named);
            }
        }
        out
    }

    fn area(module: &str) -> &str {
        module.split("::").next().unwrap_or_default()
    }

    #[test]
    fn areas_depend_only_on_the_areas_below_them() {
        // GIVEN every module's imports WHEN each is compared with the layer order
        let rank = |a: &str| LAYERS.iter().position(|l| *l == a);
        let mut wrong = Vec::new();
        for (module, named) in imports() {
            let own = rank(area(&module)).unwrap_or_else(|| panic!("{module} is in no area"));
            for target in named {
                let theirs = rank(area(&target)).unwrap_or(usize::MAX);
                if theirs > own {
                    wrong.push(format!("{module} → {target}"));
                }
            }
        }
        // THEN none reaches up
        assert!(wrong.is_empty(), "imports against the layers: {wrong:#?}");
    }

    #[test]
    fn no_module_imports_one_that_imports_it_back() {
        // GIVEN the module graph (an import names the longest module path that exists)
        let graph = imports();
        let resolve = |name: &str| {
            let parts: Vec<&str> = name.split("::").collect();
            (1..=parts.len())
                .rev()
                .map(|n| parts[..n].join("::"))
                .find(|m| graph.contains_key(m))
        };
        let edges: BTreeMap<&str, BTreeSet<String>> = graph
            .iter()
            .map(|(m, named)| {
                let targets = named.iter().filter_map(|n| resolve(n)).filter(|t| t != m);
                (m.as_str(), targets.collect())
            })
            .collect();
        // WHEN it is searched for a path from a module back to itself
        fn reaches(
            edges: &BTreeMap<&str, BTreeSet<String>>,
            from: &str,
            to: &str,
            seen: &mut BTreeSet<String>,
        ) -> bool {
            edges.get(from).is_some_and(|next| {
                next.iter()
                    .any(|n| n == to || (seen.insert(n.clone()) && reaches(edges, n, to, seen)))
            })
        }
        let cyclic: Vec<&str> = edges
            .keys()
            .copied()
            .filter(|m| reaches(&edges, m, m, &mut BTreeSet::new()))
            .collect();
        // THEN there is none
        assert!(cyclic.is_empty(), "modules on an import cycle: {cyclic:?}");
    }
}
