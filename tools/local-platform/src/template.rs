//! Reads `infra/template.yaml`, the single source of truth for functions, routes, events and
//! resources, into a small model the local platform (and the test harness) builds from.
//! Short-form intrinsics (`!Ref`, `!Sub`, `!GetAtt`) are turned into their long form first, so
//! everything downstream sees plain JSON.

use std::collections::BTreeMap;
use std::path::Path;

use serde_json::{Map, Value};

/// What can go wrong reading or resolving the template.
#[derive(Debug, thiserror::Error)]
pub enum TemplateError {
    #[error("cannot read {path}: {source}")]
    Read {
        path: String,
        source: std::io::Error,
    },
    #[error("template is not valid YAML: {0}")]
    Yaml(#[from] serde_norway::Error),
    #[error("template: {0}")]
    Invalid(String),
}

fn invalid(msg: impl Into<String>) -> TemplateError {
    TemplateError::Invalid(msg.into())
}

/// One resource: its type, properties and metadata (intrinsics in long form).
#[derive(Debug, Clone)]
pub struct Resource {
    pub kind: String,
    pub properties: Value,
    pub metadata: Value,
}

/// The template, parsed.
#[derive(Debug, Clone)]
pub struct Template {
    pub parameters: BTreeMap<String, Value>,
    pub globals: Value,
    pub resources: BTreeMap<String, Resource>,
}

/// An HTTP API and the custom domain it serves (`app.localhost`, `*.localhost`, …).
#[derive(Debug, Clone)]
pub struct HttpApi {
    pub id: String,
    pub domain: Value,
}

/// A route an HTTP API sends to a function.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HttpRoute {
    pub api: String,
    /// Upper-case method, or `ANY`.
    pub method: String,
    /// Path template, e.g. `/api/uploads/batches/{id}`.
    pub path: String,
}

/// An SQS queue that triggers a function.
#[derive(Debug, Clone)]
pub struct SqsSource {
    /// The queue's logical id.
    pub queue: String,
    pub batch_size: u32,
    pub report_batch_item_failures: bool,
}

/// A function: the binary it runs, its environment and what invokes it.
#[derive(Debug, Clone)]
pub struct Function {
    pub id: String,
    pub binary: String,
    /// Globals merged with the function's own variables (unresolved).
    pub environment: BTreeMap<String, Value>,
    pub routes: Vec<HttpRoute>,
    pub sqs_sources: Vec<SqsSource>,
}

impl Template {
    /// Reads and parses the template at `path`.
    pub fn load(path: &Path) -> Result<Self, TemplateError> {
        let text = std::fs::read_to_string(path).map_err(|source| TemplateError::Read {
            path: path.display().to_string(),
            source,
        })?;
        Self::parse(&text)
    }

    /// The template in the repository, found from this crate's location at build time.
    pub fn load_default() -> Result<Self, TemplateError> {
        Self::load(&default_template_path())
    }

    pub fn parse(text: &str) -> Result<Self, TemplateError> {
        let yaml: serde_norway::Value = serde_norway::from_str(text)?;
        let root = to_json(yaml)?;
        let section = |name: &str| root.get(name).cloned().unwrap_or(Value::Null);
        let parameters = section("Parameters")
            .as_object()
            .map(|m| m.clone().into_iter().collect())
            .unwrap_or_default();
        let mut resources = BTreeMap::new();
        for (id, res) in section("Resources")
            .as_object()
            .ok_or_else(|| invalid("no Resources section"))?
        {
            let kind = res
                .get("Type")
                .and_then(Value::as_str)
                .ok_or_else(|| invalid(format!("resource {id} has no Type")))?;
            resources.insert(
                id.clone(),
                Resource {
                    kind: kind.to_owned(),
                    properties: res.get("Properties").cloned().unwrap_or(Value::Null),
                    metadata: res.get("Metadata").cloned().unwrap_or(Value::Null),
                },
            );
        }
        Ok(Self {
            parameters,
            globals: section("Globals"),
            resources,
        })
    }

    /// Logical ids of the resources of one type, in order.
    pub fn ids_of_type<'a>(&'a self, kind: &'a str) -> impl Iterator<Item = &'a String> + 'a {
        self.resources
            .iter()
            .filter(move |(_, r)| r.kind == kind)
            .map(|(id, _)| id)
    }

    pub fn http_apis(&self) -> Vec<HttpApi> {
        self.ids_of_type("AWS::Serverless::HttpApi")
            .map(|id| HttpApi {
                id: id.clone(),
                domain: self.resources[id].properties["Domain"]["DomainName"].clone(),
            })
            .collect()
    }

    pub fn functions(&self) -> Result<Vec<Function>, TemplateError> {
        let global_env = self.globals["Function"]["Environment"]["Variables"]
            .as_object()
            .cloned()
            .unwrap_or_default();
        let mut functions = Vec::new();
        for id in self.ids_of_type("AWS::Serverless::Function") {
            let res = &self.resources[id];
            let binary = res.metadata["BuildProperties"]["Binary"]
                .as_str()
                .map(str::to_owned)
                .or_else(|| {
                    res.properties["CodeUri"]
                        .as_str()
                        .and_then(|uri| uri.trim_end_matches('/').rsplit('/').next())
                        .map(str::to_owned)
                })
                .ok_or_else(|| invalid(format!("{id}: no Metadata.BuildProperties.Binary")))?;
            let mut environment: BTreeMap<String, Value> = global_env.clone().into_iter().collect();
            if let Some(own) = res.properties["Environment"]["Variables"].as_object() {
                environment.extend(own.clone());
            }
            let mut routes = Vec::new();
            let mut sqs_sources = Vec::new();
            for (name, event) in res.properties["Events"].as_object().into_iter().flatten() {
                let props = &event["Properties"];
                match event["Type"].as_str() {
                    Some("HttpApi") => routes.push(HttpRoute {
                        api: ref_target(&props["ApiId"])
                            .ok_or_else(|| invalid(format!("{id}.{name}: ApiId must be a !Ref")))?,
                        method: props["Method"]
                            .as_str()
                            .unwrap_or("ANY")
                            .to_ascii_uppercase(),
                        path: props["Path"]
                            .as_str()
                            .ok_or_else(|| invalid(format!("{id}.{name}: no Path")))?
                            .to_owned(),
                    }),
                    Some("SQS") => sqs_sources.push(SqsSource {
                        queue: getatt_target(&props["Queue"]).ok_or_else(|| {
                            invalid(format!("{id}.{name}: Queue must be !GetAtt <queue>.Arn"))
                        })?,
                        batch_size: props["BatchSize"].as_u64().unwrap_or(10) as u32,
                        report_batch_item_failures: props["FunctionResponseTypes"]
                            .as_array()
                            .is_some_and(|a| a.iter().any(|t| t == "ReportBatchItemFailures")),
                    }),
                    other => {
                        return Err(invalid(format!(
                            "{id}.{name}: event type {other:?} is not supported locally"
                        )));
                    }
                }
            }
            functions.push(Function {
                id: id.clone(),
                binary,
                environment,
                routes,
                sqs_sources,
            });
        }
        Ok(functions)
    }
}

/// `infra/template.yaml` of this checkout.
pub fn default_template_path() -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../infra/template.yaml")
}

/// `{"Ref": "X"}` → `X`.
pub fn ref_target(v: &Value) -> Option<String> {
    v.get("Ref").and_then(Value::as_str).map(str::to_owned)
}

/// `{"Fn::GetAtt": ["X", "Arn"]}` → `X`.
fn getatt_target(v: &Value) -> Option<String> {
    v.get("Fn::GetAtt")?
        .as_array()?
        .first()?
        .as_str()
        .map(str::to_owned)
}

/// YAML → JSON with CloudFormation short-form tags expanded.
fn to_json(v: serde_norway::Value) -> Result<Value, TemplateError> {
    use serde_norway::Value as Y;
    Ok(match v {
        Y::Null => Value::Null,
        Y::Bool(b) => Value::Bool(b),
        Y::Number(n) => serde_json::to_value(n).map_err(|e| invalid(e.to_string()))?,
        Y::String(s) => Value::String(s),
        Y::Sequence(items) => {
            Value::Array(items.into_iter().map(to_json).collect::<Result<_, _>>()?)
        }
        Y::Mapping(map) => {
            let mut out = Map::new();
            for (k, v) in map {
                let key = match k {
                    Y::String(s) => s,
                    other => serde_norway::to_string(&other)?.trim().to_owned(),
                };
                out.insert(key, to_json(v)?);
            }
            Value::Object(out)
        }
        Y::Tagged(tagged) => {
            let tag = tagged.tag.to_string();
            let name = tag.trim_start_matches('!');
            let value = to_json(tagged.value)?;
            let long = if name == "Ref" || name == "Condition" {
                name.to_owned()
            } else {
                format!("Fn::{name}")
            };
            let value = match (name, value) {
                ("GetAtt", Value::String(s)) => {
                    let (res, attr) = s.split_once('.').ok_or_else(|| {
                        invalid(format!("!GetAtt {s}: expected Resource.Attribute"))
                    })?;
                    serde_json::json!([res, attr])
                }
                (_, v) => v,
            };
            serde_json::json!({ long: value })
        }
    })
}

/// Resolves intrinsics to strings, given parameter values and the physical resources.
pub struct Resolver {
    /// Parameter and pseudo-parameter values (`RootDomain`, `AWS::Region`, …).
    pub parameters: BTreeMap<String, String>,
    /// Per logical id: the value of `!Ref` and of each `!GetAtt` attribute.
    pub resources: BTreeMap<String, Physical>,
}

/// What a deployed resource answers to `!Ref` and `!GetAtt`.
#[derive(Debug, Clone, Default)]
pub struct Physical {
    pub reference: String,
    pub attributes: BTreeMap<String, String>,
}

impl Resolver {
    /// The origin of every tenant host as `TenantUrlFormat` writes it, with the subdomain as a
    /// wildcard (`http://*.localhost:9000` locally).
    pub fn local_tenant_origin(&self) -> String {
        let format = self
            .parameters
            .get("TenantUrlFormat")
            .map_or("https://{subdomain}.{root_domain}", String::as_str);
        let root = self
            .parameters
            .get("RootDomain")
            .map_or("localhost", String::as_str);
        format
            .replace("{subdomain}", "*")
            .replace("{root_domain}", root)
    }

    pub fn resolve(&self, v: &Value) -> Result<String, TemplateError> {
        match v {
            Value::String(s) => Ok(s.clone()),
            Value::Number(n) => Ok(n.to_string()),
            Value::Bool(b) => Ok(b.to_string()),
            Value::Object(m) if m.len() == 1 => {
                let (k, arg) = m.iter().next().expect("one entry");
                match k.as_str() {
                    "Ref" => self.reference(arg.as_str().unwrap_or_default()),
                    "Fn::GetAtt" => {
                        let parts: Vec<&str> = arg
                            .as_array()
                            .map(|a| a.iter().filter_map(Value::as_str).collect())
                            .unwrap_or_default();
                        match parts.as_slice() {
                            [res, attr] => self.attribute(res, attr),
                            _ => Err(invalid(format!("bad Fn::GetAtt {arg}"))),
                        }
                    }
                    "Fn::Sub" => self.substitute(arg),
                    "Fn::Join" => {
                        let sep = arg[0].as_str().unwrap_or_default();
                        let items = arg[1].as_array().cloned().unwrap_or_default();
                        let parts: Result<Vec<String>, _> =
                            items.iter().map(|i| self.resolve(i)).collect();
                        Ok(parts?.join(sep))
                    }
                    other => Err(invalid(format!(
                        "intrinsic {other} is not supported locally"
                    ))),
                }
            }
            other => Err(invalid(format!("cannot resolve {other} to a string"))),
        }
    }

    fn reference(&self, name: &str) -> Result<String, TemplateError> {
        self.parameters
            .get(name)
            .cloned()
            .or_else(|| self.resources.get(name).map(|p| p.reference.clone()))
            .ok_or_else(|| invalid(format!("!Ref {name}: unknown parameter or resource")))
    }

    fn attribute(&self, res: &str, attr: &str) -> Result<String, TemplateError> {
        self.resources
            .get(res)
            .and_then(|p| p.attributes.get(attr))
            .cloned()
            .ok_or_else(|| invalid(format!("!GetAtt {res}.{attr}: not available locally")))
    }

    fn substitute(&self, arg: &Value) -> Result<String, TemplateError> {
        let (text, vars) = match arg {
            Value::String(s) => (s.as_str(), Map::new()),
            Value::Array(a) if a.len() == 2 => (
                a[0].as_str().unwrap_or_default(),
                a[1].as_object().cloned().unwrap_or_default(),
            ),
            other => return Err(invalid(format!("bad Fn::Sub {other}"))),
        };
        let mut out = String::new();
        let mut rest = text;
        while let Some(start) = rest.find("${") {
            out.push_str(&rest[..start]);
            let after = &rest[start + 2..];
            let end = after
                .find('}')
                .ok_or_else(|| invalid(format!("unclosed ${{ in {text:?}")))?;
            let name = &after[..end];
            let value = match (vars.get(name), name.split_once('.')) {
                (Some(v), _) => self.resolve(v)?,
                (None, Some((res, attr))) => self.attribute(res, attr)?,
                (None, None) => self.reference(name)?,
            };
            out.push_str(&value);
            rest = &after[end + 1..];
        }
        out.push_str(rest);
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_repository_template_declares_every_function_with_its_triggers() {
        let t = Template::load_default().unwrap();
        let functions = t.functions().unwrap();
        let binaries: Vec<&str> = functions.iter().map(|f| f.binary.as_str()).collect();
        for want in [
            "tenant-discovery",
            "auth",
            "uploads",
            "upload-processor",
            "analytics",
            "provisioning",
        ] {
            assert!(binaries.contains(&want), "{want} missing from {binaries:?}");
            let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("../../functions")
                .join(want);
            assert!(dir.join("Cargo.toml").exists(), "no package for {want}");
        }
        let apis: Vec<String> = t.http_apis().iter().map(|a| a.id.clone()).collect();
        for f in &functions {
            for r in &f.routes {
                assert!(
                    apis.contains(&r.api),
                    "{} routes to unknown API {}",
                    f.id,
                    r.api
                );
                assert!(r.path.starts_with('/'), "{}: {}", f.id, r.path);
            }
            for s in &f.sqs_sources {
                assert_eq!(t.resources[&s.queue].kind, "AWS::SQS::Queue");
            }
        }
        let processor = functions
            .iter()
            .find(|f| f.binary == "upload-processor")
            .unwrap();
        assert!(processor.sqs_sources[0].report_batch_item_failures);
    }

    #[test]
    fn every_reference_in_the_template_points_at_something() {
        let t = Template::load_default().unwrap();
        let text = serde_json::to_string(
            &t.resources
                .values()
                .map(|r| r.properties.clone())
                .collect::<Vec<_>>(),
        )
        .unwrap();
        let known = |name: &str| {
            t.parameters.contains_key(name)
                || t.resources.contains_key(name)
                || name.starts_with("AWS::")
        };
        let v: Value = serde_json::from_str(&text).unwrap();
        let mut stack = vec![v];
        while let Some(v) = stack.pop() {
            match v {
                Value::Object(m) => {
                    if let Some(Value::String(name)) = m.get("Ref") {
                        assert!(known(name), "dangling !Ref {name}");
                    }
                    if let Some(target) = getatt_target(&Value::Object(m.clone())) {
                        assert!(
                            t.resources.contains_key(&target),
                            "dangling !GetAtt {target}"
                        );
                    }
                    if let Some(Value::String(s)) = m.get("Fn::Sub") {
                        for part in s.split("${").skip(1) {
                            let name = part.split('}').next().unwrap_or_default();
                            let base = name.split('.').next().unwrap_or_default();
                            assert!(known(base), "dangling ${{{name}}} in !Sub");
                        }
                    }
                    stack.extend(m.into_values());
                }
                Value::Array(a) => stack.extend(a),
                _ => {}
            }
        }
    }

    #[test]
    fn resolves_sub_ref_and_getatt() {
        let r = Resolver {
            parameters: [("RootDomain".into(), "localhost".into())].into(),
            resources: [(
                "Queue".into(),
                Physical {
                    reference: "http://q".into(),
                    attributes: [("Arn".into(), "arn:q".into())].into(),
                },
            )]
            .into(),
        };
        let t = Template::parse(
            "Resources:\n  X:\n    Type: T\n    Properties:\n      A: !Sub 'app.${RootDomain}'\n      B: !GetAtt Queue.Arn\n      C: !Ref Queue\n      D: !Sub '${Queue.Arn}/x'\n",
        )
        .unwrap();
        let p = &t.resources["X"].properties;
        assert_eq!(r.resolve(&p["A"]).unwrap(), "app.localhost");
        assert_eq!(r.resolve(&p["B"]).unwrap(), "arn:q");
        assert_eq!(r.resolve(&p["C"]).unwrap(), "http://q");
        assert_eq!(r.resolve(&p["D"]).unwrap(), "arn:q/x");
        assert!(r.resolve(&serde_json::json!({"Ref": "Nope"})).is_err());
    }
}
