//! The kkrpc client shape: an interface of methods returning promises, by dotted path.

use super::render::{prop_name, Dir, Renderer};
use super::{JsType, Ty, Wire};
use std::collections::BTreeMap;

/// One parameter of a method or callback.
#[derive(Clone, Debug, PartialEq)]
pub struct Param {
    /// Its name in TypeScript.
    pub name: String,
    /// Its type.
    pub ty: Ty,
    /// It may be left out.
    pub optional: bool,
    /// It takes the rest of the arguments (its type is the element type).
    pub rest: bool,
}

impl Param {
    /// A required parameter.
    pub fn new(name: impl Into<String>, ty: Ty) -> Param {
        Param {
            name: name.into(),
            ty,
            optional: false,
            rest: false,
        }
    }
}

/// A method's signature: its parameters and what it returns.
///
/// ```
/// use polycodec::types::{MethodSig, Ty};
/// // withCallback(n: number, cb: (arg0: number) => void): Promise<string>
/// let sig = MethodSig::new()
///     .param("n", Ty::of::<u32>())
///     .param("cb", Ty::callback([Ty::of::<u32>()]))
///     .returns(Ty::of::<String>());
/// # assert_eq!(sig.params.len(), 2);
/// ```
#[derive(Clone, Debug, PartialEq)]
pub struct MethodSig {
    /// The parameters, in order.
    pub params: Vec<Param>,
    /// What it returns (in a promise, to a caller).
    pub returns: Ty,
}

impl Default for MethodSig {
    fn default() -> MethodSig {
        MethodSig::new()
    }
}

impl MethodSig {
    /// No parameters, returns `unknown`.
    pub fn new() -> MethodSig {
        MethodSig {
            params: Vec::new(),
            returns: Ty::Unknown,
        }
    }

    /// What an untyped method (`ApiBuilder::method`) is: `(...args: unknown[]) => unknown`.
    pub fn untyped() -> MethodSig {
        MethodSig {
            params: vec![Param {
                rest: true,
                ..Param::new("args", Ty::Unknown)
            }],
            returns: Ty::Unknown,
        }
    }

    /// The signature of a typed method taking the arguments `A` (a tuple: one parameter per
    /// element, named `arg0`, `arg1`, …; `()`: none; a `Vec<T>`: `...args: T[]`) and
    /// returning `R`.
    pub fn of<A: JsType, R: JsType>() -> MethodSig {
        MethodSig {
            params: params_of(A::js_type()),
            returns: R::js_type(),
        }
    }

    /// Add a parameter.
    pub fn param(mut self, name: impl Into<String>, ty: Ty) -> MethodSig {
        self.params.push(Param::new(name, ty));
        self
    }

    /// Set what the method returns.
    pub fn returns(mut self, ty: Ty) -> MethodSig {
        self.returns = ty;
        self
    }

    /// Rename the parameters, in order (extra names are ignored).
    pub fn names<S: AsRef<str>>(mut self, names: impl IntoIterator<Item = S>) -> MethodSig {
        for (p, n) in self.params.iter_mut().zip(names) {
            p.name = n.as_ref().to_owned();
        }
        self
    }
}

/// The parameters a typed method's argument type makes.
fn params_of(args: Ty) -> Vec<Param> {
    let args = match args {
        Ty::Named(n) => (n.def)(),
        other => other,
    };
    match args {
        Ty::Null => Vec::new(),
        Ty::Tuple(items) => items
            .into_iter()
            .enumerate()
            .map(|(i, ty)| Param::new(format!("arg{i}"), ty))
            .collect(),
        Ty::Array(item) => vec![Param {
            rest: true,
            ..Param::new("args", *item)
        }],
        _ => MethodSig::untyped().params,
    }
}

/// Who calls the methods of an interface.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Side {
    /// The client calls them (the server's API, `getAPI<T>()`): arguments go to the Rust
    /// side, results come back in promises.
    Remote,
    /// The Rust side calls them and the client implements them (the API a client exposes):
    /// arguments come from the Rust side, results go back, plain or in a promise.
    Local,
}

/// The types of an API: methods and properties by dotted path.
///
/// From an [`Api`](crate::rpc::Api) with `Api::types`, or built by hand for an API a client
/// exposes. [`ApiTypes::render`] writes it as a kkrpc interface.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ApiTypes {
    methods: BTreeMap<String, MethodSig>,
    props: BTreeMap<String, Ty>,
}

/// One level of the interface: members by name.
#[derive(Default)]
struct Level<'a> {
    members: BTreeMap<&'a str, Member<'a>>,
}

enum Member<'a> {
    Method(&'a MethodSig),
    Prop(&'a Ty),
    Nested(Level<'a>),
}

impl ApiTypes {
    /// No methods, no properties.
    pub fn new() -> ApiTypes {
        ApiTypes::default()
    }

    /// Add (or replace) the method at `path`.
    pub fn method(mut self, path: &str, sig: MethodSig) -> ApiTypes {
        self.methods.insert(path.to_owned(), sig);
        self
    }

    /// Add (or replace) the property at `path`.
    pub fn property(mut self, path: &str, ty: Ty) -> ApiTypes {
        self.props.insert(path.to_owned(), ty);
        self
    }

    /// The methods, by path.
    pub fn methods(&self) -> impl Iterator<Item = (&str, &MethodSig)> {
        self.methods.iter().map(|(k, v)| (k.as_str(), v))
    }

    /// `export interface NAME { ... }`: the API as a client of `wire` sees it, with nested
    /// namespaces for dotted paths (`math.multiply` is `math: { multiply(...) }`).
    pub fn render(&self, name: &str, wire: &Wire, side: Side) -> String {
        let mut root = Level::default();
        for (path, ty) in &self.props {
            root.insert(path, Member::Prop(ty));
        }
        for (path, sig) in &self.methods {
            root.insert(path, Member::Method(sig));
        }
        let mut out = format!("export interface {name} ");
        root.write(&mut out, wire, side, 0);
        out.push('\n');
        out
    }
}

impl<'a> Level<'a> {
    fn insert(&mut self, path: &'a str, member: Member<'a>) {
        match path.split_once('.') {
            None => {
                // A namespace already there keeps its place (a path that is a prefix of
                // others is not callable in a JS proxy API anyway).
                if !matches!(self.members.get(path), Some(Member::Nested(_))) {
                    self.members.insert(path, member);
                }
            }
            Some((first, rest)) => {
                let slot = self
                    .members
                    .entry(first)
                    .or_insert_with(|| Member::Nested(Level::default()));
                if !matches!(slot, Member::Nested(_)) {
                    *slot = Member::Nested(Level::default());
                }
                if let Member::Nested(level) = slot {
                    level.insert(rest, member);
                }
            }
        }
    }

    fn write(&self, out: &mut String, wire: &Wire, side: Side, depth: usize) {
        let pad = "  ".repeat(depth + 1);
        out.push_str("{\n");
        for (name, member) in &self.members {
            let name = prop_name(name);
            match member {
                Member::Method(sig) => {
                    let (args, ret) = match side {
                        Side::Remote => (Dir::In, Dir::Out),
                        Side::Local => (Dir::Out, Dir::In),
                    };
                    let params = Renderer::new(wire, args).params(&sig.params);
                    let ret = Renderer::new(wire, ret).ty(&sig.returns);
                    let ret = match side {
                        Side::Remote => format!("Promise<{ret}>"),
                        Side::Local if ret.contains(" | ") => format!("({ret}) | Promise<{ret}>"),
                        Side::Local => format!("{ret} | Promise<{ret}>"),
                    };
                    out.push_str(&format!("{pad}{name}({params}): {ret};\n"));
                }
                Member::Prop(ty) => {
                    let ty = Renderer::new(wire, Dir::Out).ty(ty);
                    match side {
                        // kkrpc reads a property with `await api.name`.
                        Side::Remote => {
                            out.push_str(&format!("{pad}readonly {name}: Promise<{ty}>;\n"))
                        }
                        Side::Local => out.push_str(&format!("{pad}{name}: {ty};\n")),
                    }
                }
                Member::Nested(level) => {
                    out.push_str(&format!("{pad}{name}: "));
                    level.write(out, wire, side, depth + 1);
                    out.push_str(";\n");
                }
            }
        }
        out.push_str(&"  ".repeat(depth));
        out.push('}');
    }
}
