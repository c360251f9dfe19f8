//! Route tables: each function declares the routes it serves as data, dispatches on the match,
//! and the OpenAPI contract test reads the same table.

use super::ApiError;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Route {
    pub method: &'static str,
    /// A path template such as `/requests/{id}/approve`.
    pub path: &'static str,
}

/// The route for `method` and `segments`, with the values of its `{params}` in order; a known
/// path with another method is 405, anything else 404.
pub fn match_route<'r>(
    routes: &'r [Route],
    method: &str,
    segments: &[String],
) -> Result<(&'r Route, Vec<String>), ApiError> {
    let mut path_known = false;
    for r in routes {
        let template: Vec<&str> = r.path.split('/').filter(|s| !s.is_empty()).collect();
        if template.len() != segments.len() {
            continue;
        }
        let mut params = Vec::new();
        let fits = template.iter().zip(segments).all(|(t, s)| {
            if t.starts_with('{') && t.ends_with('}') {
                params.push(s.clone());
                true
            } else {
                t == s
            }
        });
        if fits {
            if r.method == method {
                return Ok((r, params));
            }
            path_known = true;
        }
    }
    let path = format!("/{}", segments.join("/"));
    Err(if path_known {
        ApiError::new(
            405,
            "method_not_allowed",
            format!("{method} is not allowed on {path}"),
        )
    } else {
        ApiError::new(
            404,
            "route_not_found",
            format!("no route for {method} {path}"),
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const R: &[Route] = &[
        Route {
            method: "GET",
            path: "/requests",
        },
        Route {
            method: "POST",
            path: "/requests/{id}/approve",
        },
    ];

    fn seg(p: &str) -> Vec<String> {
        p.split('/')
            .filter(|s| !s.is_empty())
            .map(String::from)
            .collect()
    }

    #[test]
    fn matches_params_and_tells_404_from_405() {
        let (r, params) = match_route(R, "POST", &seg("/requests/abc/approve")).unwrap();
        assert_eq!(
            (r.path, params),
            ("/requests/{id}/approve", vec!["abc".to_string()])
        );
        assert_eq!(
            match_route(R, "DELETE", &seg("/requests"))
                .unwrap_err()
                .status,
            405
        );
        assert_eq!(
            match_route(R, "GET", &seg("/nope")).unwrap_err().status,
            404
        );
    }
}
