//! The tRPC client shape: an `AppRouter` type that `createTRPCClient<AppRouter>` accepts,
//! written from a small description of the router (path, kind, input, output, transformer).

use super::render::{prop_name, Dir, Renderer};
use super::{JsType, Ty, Wire};
use std::collections::BTreeMap;

/// A procedure's kind.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ProcedureKind {
    /// Called with `.query()` (HTTP GET).
    Query,
    /// Called with `.mutate()` (HTTP POST).
    Mutation,
    /// Called with `.subscribe()`; its output is the type of each value it yields.
    Subscription,
}

impl ProcedureKind {
    fn name(self) -> &'static str {
        match self {
            ProcedureKind::Query => "query",
            ProcedureKind::Mutation => "mutation",
            ProcedureKind::Subscription => "subscription",
        }
    }
}

/// A router's transformer: how inputs and outputs travel.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Transformer {
    /// superjson (the client passes `transformer: superjson` to its links).
    SuperJson,
    /// None: plain JSON.
    None,
}

impl Transformer {
    fn wire(self) -> &'static Wire {
        match self {
            Transformer::SuperJson => Wire::SUPERJSON,
            Transformer::None => Wire::JSON,
        }
    }
}

/// One procedure: its dotted path, kind, input and output types.
#[derive(Clone, Debug, PartialEq)]
pub struct ProcedureTypes {
    /// The dotted path (`"math.add"`).
    pub path: String,
    /// Query, mutation or subscription.
    pub kind: ProcedureKind,
    /// The input (`()`: none; an `Option`: may be left out).
    pub input: Ty,
    /// The output; for a subscription, each value it yields (a tracked subscription
    /// yields `{ id: string; data: T }`).
    pub output: Ty,
}

/// The types of a tRPC router: its procedures and its transformer.
///
/// ```
/// use polycodec::types::{RouterTypes, Transformer};
/// let router = RouterTypes::new(Transformer::SuperJson)
///     .query::<String, String>("greet")
///     .mutation::<Option<f64>, f64>("counter.inc");
/// let ts = router.render("AppRouter");
/// assert!(ts.starts_with("export type AppRouter = TrpcRouter<true, {"));
/// assert!(ts.contains(r#"greet: TrpcProcedure<"query", string, string>;"#));
/// ```
#[derive(Clone, Debug, PartialEq)]
pub struct RouterTypes {
    /// How inputs and outputs travel.
    pub transformer: Transformer,
    /// The procedures.
    pub procedures: Vec<ProcedureTypes>,
}

impl RouterTypes {
    /// No procedures yet.
    pub fn new(transformer: Transformer) -> RouterTypes {
        RouterTypes {
            transformer,
            procedures: Vec::new(),
        }
    }

    /// Add a procedure.
    pub fn procedure(mut self, p: ProcedureTypes) -> RouterTypes {
        self.procedures.push(p);
        self
    }

    fn typed<I: JsType, O: JsType>(self, path: &str, kind: ProcedureKind) -> RouterTypes {
        self.procedure(ProcedureTypes {
            path: path.to_owned(),
            kind,
            input: I::js_type(),
            output: O::js_type(),
        })
    }

    /// Add a query taking `I` and returning `O`.
    pub fn query<I: JsType, O: JsType>(self, path: &str) -> RouterTypes {
        self.typed::<I, O>(path, ProcedureKind::Query)
    }

    /// Add a mutation taking `I` and returning `O`.
    pub fn mutation<I: JsType, O: JsType>(self, path: &str) -> RouterTypes {
        self.typed::<I, O>(path, ProcedureKind::Mutation)
    }

    /// Add a subscription taking `I` and yielding `O`s.
    pub fn subscription<I: JsType, O: JsType>(self, path: &str) -> RouterTypes {
        self.typed::<I, O>(path, ProcedureKind::Subscription)
    }

    /// `export type NAME = TrpcRouter<...>`: the router as `createTRPCClient<NAME>` takes it.
    /// It uses the helper types in [`RouterTypes::PRELUDE`], which [`TsModule`](super::TsModule)
    /// writes once per module.
    pub fn render(&self, name: &str) -> String {
        #[derive(Default)]
        struct Level<'a>(BTreeMap<&'a str, Node<'a>>);
        enum Node<'a> {
            Proc(&'a ProcedureTypes),
            Nested(Level<'a>),
        }
        fn insert<'a>(level: &mut Level<'a>, path: &'a str, p: &'a ProcedureTypes) {
            match path.split_once('.') {
                None => {
                    level.0.insert(path, Node::Proc(p));
                }
                Some((first, rest)) => {
                    let slot = level
                        .0
                        .entry(first)
                        .or_insert_with(|| Node::Nested(Level::default()));
                    if let Node::Proc(_) = slot {
                        *slot = Node::Nested(Level::default());
                    }
                    if let Node::Nested(l) = slot {
                        insert(l, rest, p);
                    }
                }
            }
        }
        fn write(level: &Level<'_>, wire: &Wire, out: &mut String, depth: usize) {
            let pad = "  ".repeat(depth + 1);
            out.push_str("{\n");
            for (name, node) in &level.0 {
                out.push_str(&format!("{pad}{}: ", prop_name(name)));
                match node {
                    Node::Proc(p) => {
                        let input = Renderer::new(wire, Dir::In).ty(&input_of(&p.input));
                        let output = Renderer::new(wire, Dir::Out).ty(&p.output);
                        let output = match p.kind {
                            ProcedureKind::Subscription => format!("AsyncIterable<{output}>"),
                            _ => output,
                        };
                        out.push_str(&format!(
                            "TrpcProcedure<\"{}\", {input}, {output}>",
                            p.kind.name()
                        ));
                    }
                    Node::Nested(l) => write(l, wire, out, depth + 1),
                }
                out.push_str(";\n");
            }
            out.push_str(&"  ".repeat(depth));
            out.push('}');
        }
        let mut root = Level::default();
        for p in &self.procedures {
            insert(&mut root, &p.path, p);
        }
        let transformer = self.transformer == Transformer::SuperJson;
        let mut out = format!("export type {name} = TrpcRouter<{transformer}, ");
        write(&root, self.transformer.wire(), &mut out, 0);
        out.push_str(">;\n");
        out
    }

    /// The helper types an `AppRouter` is written with: the shape of a tRPC 11 router and
    /// procedure as `@trpc/client` reads it (`_def` with the root types and the record),
    /// declared here so that the module needs no import (a kkrpc-only client compiles it
    /// without `@trpc/server`). Checked against the real `@trpc/client` 11.25.2 by `tsc`.
    pub const PRELUDE: &'static str = r#"/** The error shape of a tRPC router with the default error formatter. */
export type TrpcErrorShape = {
  message: string;
  code: number;
  data: { code: string; httpStatus: number; path?: string; stack?: string };
};

/** A tRPC 11 procedure, as `@trpc/client` reads it. */
export interface TrpcProcedure<TType extends "query" | "mutation" | "subscription", TInput, TOutput> {
  _def: {
    $types: { input: TInput; output: TOutput; errorShape: TrpcErrorShape };
    procedure: true;
    type: TType;
    meta: unknown;
    experimental_caller: boolean;
    inputs: any[];
  };
  meta: object;
  (opts: any): Promise<TOutput>;
}

/** A tRPC 11 router, as `createTRPCClient<AppRouter>` takes it; `TTransformer`: superjson. */
export type TrpcRouter<TTransformer extends boolean, TRecord> = {
  _def: {
    _config: {
      $types: { ctx: object; meta: object; errorShape: TrpcErrorShape; transformer: TTransformer };
      transformer: any;
      errorFormatter: any;
      allowOutsideOfServer: boolean;
      isServer: boolean;
      isDev: boolean;
      pathSeparator: any;
    };
    router: true;
    procedure?: never;
    procedures: TRecord;
    record: TRecord;
    lazy: Record<string, any>;
  };
  createCaller: any;
} & TRecord;
"#;
}

/// The input as a client passes it: none (`()`) is `undefined` (the call takes no
/// argument), an `Option` may also be left out.
fn input_of(input: &Ty) -> Ty {
    match input {
        Ty::Null => Ty::Raw("undefined".into()),
        Ty::Nullable(t) => Ty::Union(vec![(**t).clone(), Ty::Null, Ty::Raw("undefined".into())]),
        other => other.clone(),
    }
}
