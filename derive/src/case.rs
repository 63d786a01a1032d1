//! serde's `rename_all` rules.

/// `name` (a field in snake_case, or a variant in PascalCase) under the rule `rule`.
pub fn apply(rule: Option<&str>, name: &str, variant: bool) -> String {
    let Some(rule) = rule else {
        return name.to_owned();
    };
    // Words, from snake_case (fields) or PascalCase (variants).
    let words: Vec<String> = if variant {
        let mut words = Vec::new();
        let mut cur = String::new();
        for c in name.chars() {
            if c.is_uppercase() && !cur.is_empty() {
                words.push(std::mem::take(&mut cur));
            }
            cur.push(c);
        }
        if !cur.is_empty() {
            words.push(cur);
        }
        words.iter().map(|w| w.to_lowercase()).collect()
    } else {
        name.split('_').map(str::to_owned).collect()
    };
    let cap = |w: &String| -> String {
        let mut c = w.chars();
        match c.next() {
            Some(f) => f.to_uppercase().chain(c).collect(),
            None => String::new(),
        }
    };
    match rule {
        "lowercase" if variant => name.to_lowercase(),
        "UPPERCASE" if variant => name.to_uppercase(),
        "lowercase" => name.to_owned(),
        "UPPERCASE" => name.to_uppercase(),
        "PascalCase" => words.iter().map(cap).collect::<String>(),
        "camelCase" => {
            let mut out = String::new();
            for (i, w) in words.iter().enumerate() {
                if i == 0 {
                    out.push_str(w);
                } else {
                    out.push_str(&cap(w));
                }
            }
            out
        }
        "snake_case" => words.join("_"),
        "SCREAMING_SNAKE_CASE" => words.join("_").to_uppercase(),
        "kebab-case" => words.join("-"),
        "SCREAMING-KEBAB-CASE" => words.join("-").to_uppercase(),
        _ => name.to_owned(),
    }
}
