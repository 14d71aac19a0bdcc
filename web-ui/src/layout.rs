//! Where the cluster map's SVG puts things: a pure function of a [`ClusterMap`], so the Yew view
//! only copies coordinates into elements.
//!
//! Services sit in a row at the top; below, one column per node with its pods stacked inside;
//! each endpoint line runs from its Service's box to the pod box behind it (or to the node,
//! for endpoints such as `default/kubernetes` that are not pods).

use crate::map::{ClusterMap, EndpointLine, NodeView, PodView, ServiceView};
use std::collections::BTreeMap;
use std::rc::Rc;

/// A rectangle in SVG user units.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Rect {
    /// Left edge.
    pub x: f32,
    /// Top edge.
    pub y: f32,
    /// Width.
    pub w: f32,
    /// Height.
    pub h: f32,
}

impl Rect {
    /// Middle of the top edge.
    pub fn top_center(&self) -> (f32, f32) {
        (self.x + self.w / 2.0, self.y)
    }
    /// Middle of the bottom edge.
    pub fn bottom_center(&self) -> (f32, f32) {
        (self.x + self.w / 2.0, self.y + self.h)
    }
}

/// A placed Service.
#[derive(Clone, Debug, PartialEq)]
pub struct ServiceBox<'a> {
    /// The Service.
    pub service: &'a ServiceView,
    /// Its box.
    pub rect: Rect,
}

/// A placed pod.
#[derive(Clone, Debug, PartialEq)]
pub struct PodBox<'a> {
    /// The pod (its shared view, which the map's component takes as is).
    pub pod: &'a Rc<PodView>,
    /// Its box.
    pub rect: Rect,
}

/// A placed node with its pods.
#[derive(Clone, Debug, PartialEq)]
pub struct NodeBox<'a> {
    /// The node.
    pub node: &'a NodeView,
    /// The node's column.
    pub rect: Rect,
    /// Its pods, top to bottom.
    pub pods: Vec<PodBox<'a>>,
}

/// A placed endpoint line.
#[derive(Clone, Debug, PartialEq)]
pub struct Line<'a> {
    /// The Service's name.
    pub service: &'a str,
    /// The endpoint.
    pub endpoint: &'a EndpointLine,
    /// Start (the Service box).
    pub from: (f32, f32),
    /// End (the pod or node box).
    pub to: (f32, f32),
}

/// The whole drawing.
#[derive(Clone, Debug, PartialEq)]
pub struct Layout<'a> {
    /// The SVG's width.
    pub width: f32,
    /// The SVG's height.
    pub height: f32,
    /// Services, left to right.
    pub services: Vec<ServiceBox<'a>>,
    /// Nodes, left to right.
    pub nodes: Vec<NodeBox<'a>>,
    /// Endpoint lines, in Service then endpoint order.
    pub lines: Vec<Line<'a>>,
}

const MARGIN: f32 = 20.0;
const COLUMN: f32 = 250.0;
const GAP: f32 = 20.0;
const SERVICE_H: f32 = 50.0;
const NODES_Y: f32 = 160.0;
const NODE_HEADER: f32 = 50.0;
const POD_H: f32 = 44.0;
const POD_GAP: f32 = 8.0;

/// Which row of its node's column each pod has. A pod keeps its row while it lives, so a
/// deletion moves no other pod (the map redraws one pod, not half a column) and the replacement
/// takes the first free row: often the row of the pod it replaces.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Slots {
    rows: BTreeMap<String, BTreeMap<String, usize>>,
}

impl Slots {
    /// Places `map`'s pods: pods placed before keep their rows, rows of pods that are gone are
    /// freed, and new pods take the lowest free rows, in name order.
    pub fn update(&mut self, map: &ClusterMap) {
        self.rows
            .retain(|node, _| map.nodes.iter().any(|n| n.name == *node));
        for node in &map.nodes {
            let rows = self.rows.entry(node.name.clone()).or_default();
            if rows.len() == node.pods.len() && node.pods.iter().all(|p| rows.contains_key(&p.name))
            {
                continue;
            }
            rows.retain(|name, _| node.pods.iter().any(|p| p.name == *name));
            let mut taken: Vec<bool> = vec![false; node.pods.len() + rows.len()];
            for row in rows.values() {
                if let Some(t) = taken.get_mut(*row) {
                    *t = true;
                }
            }
            let mut free = (0..).filter(|r| !taken.get(*r).copied().unwrap_or(false));
            for pod in &node.pods {
                if !rows.contains_key(&pod.name) {
                    let row = free.next().unwrap_or_default();
                    rows.insert(pod.name.clone(), row);
                }
            }
        }
    }

    /// The row of `pod` on `node`.
    pub fn row(&self, node: &str, pod: &str) -> Option<usize> {
        self.rows.get(node)?.get(pod).copied()
    }
}

/// Lays `map` out, each pod in the row it had before ([`Slots`], updated here).
pub fn layout_in<'a>(map: &'a ClusterMap, slots: &mut Slots) -> Layout<'a> {
    slots.update(map);
    layout_rows(map, |node, pod, j| slots.row(node, pod).unwrap_or(j))
}

/// Lays `map` out, pods in name order.
pub fn layout(map: &ClusterMap) -> Layout<'_> {
    layout_rows(map, |_, _, j| j)
}

fn layout_rows(map: &ClusterMap, row: impl Fn(&str, &str, usize) -> usize) -> Layout<'_> {
    let columns = map.nodes.len().max(map.services.len()).max(1) as f32;
    let width = 2.0 * MARGIN + columns * COLUMN + (columns - 1.0) * GAP;
    let nodes: Vec<NodeBox> = map
        .nodes
        .iter()
        .enumerate()
        .map(|(i, node)| {
            let x = MARGIN + i as f32 * (COLUMN + GAP);
            let rows: Vec<usize> = node
                .pods
                .iter()
                .enumerate()
                .map(|(j, pod)| row(&node.name, &pod.name, j))
                .collect();
            let mut pods: Vec<PodBox> = node
                .pods
                .iter()
                .zip(&rows)
                .map(|(pod, row)| PodBox {
                    pod,
                    rect: Rect {
                        x: x + 10.0,
                        y: NODES_Y + NODE_HEADER + *row as f32 * (POD_H + POD_GAP),
                        w: COLUMN - 20.0,
                        h: POD_H,
                    },
                })
                .collect();
            // Top to bottom: with stable rows, a deletion and its replacement change one place
            // in this (keyed) list instead of moving the pods between them.
            pods.sort_by(|a, b| a.rect.y.total_cmp(&b.rect.y));
            let rows = rows.iter().map(|r| r + 1).max().unwrap_or(0);
            let h = NODE_HEADER + rows as f32 * (POD_H + POD_GAP) + 10.0;
            NodeBox {
                node,
                rect: Rect {
                    x,
                    y: NODES_Y,
                    w: COLUMN,
                    h,
                },
                pods,
            }
        })
        .collect();
    let services: Vec<ServiceBox> = map
        .services
        .iter()
        .enumerate()
        .map(|(i, service)| ServiceBox {
            service,
            rect: Rect {
                x: MARGIN + i as f32 * (COLUMN + GAP),
                y: MARGIN,
                w: COLUMN,
                h: SERVICE_H,
            },
        })
        .collect();
    let mut lines = Vec::new();
    // Each endpoint's pod, by name or else by IP (one lookup per line, not a walk of every pod).
    let boxes = || nodes.iter().flat_map(|n| n.pods.iter());
    let by_name: BTreeMap<&str, Rect> = boxes().map(|p| (p.pod.name.as_str(), p.rect)).collect();
    let by_ip: BTreeMap<&str, Rect> = boxes()
        .filter_map(|p| Some((p.pod.ip.as_deref()?, p.rect)))
        .collect();
    for s in &services {
        for endpoint in &s.service.endpoints {
            let pod = endpoint
                .pod
                .as_deref()
                .and_then(|n| by_name.get(n))
                .or_else(|| by_ip.get(endpoint.ip.as_str()));
            let to = match pod {
                Some(rect) => Some(rect.top_center()),
                None => nodes
                    .iter()
                    .find(|n| {
                        n.node.ip == endpoint.ip || endpoint.node.as_deref() == Some(&n.node.name)
                    })
                    .map(|n| n.rect.top_center()),
            };
            if let Some(to) = to {
                lines.push(Line {
                    service: &s.service.name,
                    endpoint,
                    from: s.rect.bottom_center(),
                    to,
                });
            }
        }
    }
    // Per Service, in the order of the pods they reach (left to right, top to bottom), for the
    // same reason.
    lines.sort_by(|a, b| {
        (a.from.0, a.to.0, a.to.1)
            .partial_cmp(&(b.from.0, b.to.0, b.to.1))
            .unwrap_or(std::cmp::Ordering::Equal)
    });
    let height = nodes
        .iter()
        .map(|n| n.rect.y + n.rect.h)
        .fold(NODES_Y + NODE_HEADER, f32::max)
        + MARGIN;
    Layout {
        width,
        height,
        services,
        nodes,
        lines,
    }
}

/// How long a leaving endpoint's line stays on the map, fading out (the stylesheet's
/// `line-out` animation lasts as long).
pub const EXIT_MS: f64 = 800.0;

/// An endpoint line whose endpoint has left (pod deleted, or no longer selected), drawn where
/// it was while it fades out.
#[derive(Clone, Debug, PartialEq)]
pub struct LeavingLine {
    /// The Service's name.
    pub service: String,
    /// The endpoint's IP.
    pub ip: String,
    /// Start.
    pub from: (f32, f32),
    /// End.
    pub to: (f32, f32),
    /// When it left (the page's clock, milliseconds).
    pub since_ms: f64,
}

/// What the map remembers between renders so that an endpoint that leaves fades out instead of
/// vanishing: the lines it drew last, and the ones still leaving. (New lines need no memory:
/// they are new keyed elements, which the stylesheet animates in.)
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Exits {
    drawn: BTreeMap<LineKey, Ends>,
    leaving: Vec<LeavingLine>,
}

/// A line's identity on the map: its Service and endpoint IP.
type LineKey = (String, String);
/// A line's two ends.
type Ends = ((f32, f32), (f32, f32));

impl Exits {
    /// Takes in the lines drawn now, at `now_ms`: lines drawn last time and missing now start
    /// leaving, a line that is back stops leaving, and lines that have left for [`EXIT_MS`]
    /// are forgotten. Calling it again with the same lines changes nothing but the expiry.
    pub fn update(&mut self, lines: &[Line<'_>], now_ms: f64) {
        let drawn: BTreeMap<LineKey, Ends> = lines
            .iter()
            .map(|l| {
                (
                    (l.service.to_string(), l.endpoint.ip.clone()),
                    (l.from, l.to),
                )
            })
            .collect();
        self.leaving.retain(|l| {
            now_ms - l.since_ms < EXIT_MS && !drawn.contains_key(&(l.service.clone(), l.ip.clone()))
        });
        for (key, (from, to)) in std::mem::replace(&mut self.drawn, drawn) {
            if !self.drawn.contains_key(&key) {
                let (service, ip) = key;
                self.leaving.push(LeavingLine {
                    service,
                    ip,
                    from,
                    to,
                    since_ms: now_ms,
                });
            }
        }
    }

    /// The lines leaving now.
    pub fn leaving(&self) -> &[LeavingLine] {
        &self.leaving
    }

    /// Milliseconds from `now_ms` until the next leaving line is done (when the map should
    /// draw again), if any is leaving.
    pub fn next_expiry(&self, now_ms: f64) -> Option<f64> {
        self.leaving
            .iter()
            .map(|l| (l.since_ms + EXIT_MS - now_ms).max(0.0))
            .reduce(f64::min)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::i18n::Lang;
    use crate::playground::{Action, Playground};

    #[test]
    fn every_endpoint_gets_a_line_to_its_pod() {
        let mut p = Playground::default();
        p.reduce(Action::ApplyChapter);
        p.reduce(Action::Scale(5));
        let map = p.map();
        let l = layout(&map);
        assert_eq!(l.nodes.len(), 3);
        let httpd: Vec<&Line> = l
            .lines
            .iter()
            .filter(|x| x.service == "httpd-svc")
            .collect();
        assert_eq!(httpd.len(), 5);
        for line in httpd {
            let pod = l
                .nodes
                .iter()
                .flat_map(|n| &n.pods)
                .find(|p| p.pod.ip.as_deref() == Some(line.endpoint.ip.as_str()))
                .unwrap();
            assert_eq!(line.to, pod.rect.top_center());
        }
        // default/kubernetes points at the control-plane node (172.18.0.2:6443), not a pod.
        let api = l.lines.iter().find(|x| x.service == "kubernetes").unwrap();
        assert_eq!(api.to, l.nodes[0].rect.top_center());
        assert!(
            l.height
                > l.nodes
                    .iter()
                    .map(|n| n.rect.y + n.rect.h)
                    .fold(0.0, f32::max)
        );
    }

    #[test]
    fn a_line_that_leaves_fades_out_for_a_while_then_is_forgotten() {
        let mut p = Playground::new(Lang::En);
        p.reduce(Action::ApplyChapter);
        let mut exits = Exits::default();
        let before = p.map();
        exits.update(&layout(&before).lines, 0.0);
        assert!(
            exits.leaving().is_empty(),
            "nothing left on the first render"
        );
        // Scaling to 2 removes one endpoint of httpd-svc.
        p.reduce(Action::Scale(2));
        let after = p.map();
        let now = layout(&after);
        exits.update(&now.lines, 100.0);
        let left: Vec<&str> = exits.leaving().iter().map(|l| l.service.as_str()).collect();
        assert_eq!(left, ["httpd-svc"]);
        let gone = &exits.leaving()[0];
        assert!(now.lines.iter().all(|l| l.endpoint.ip != gone.ip));
        assert_eq!(exits.next_expiry(100.0), Some(EXIT_MS));
        // Drawing again (another reason to render) keeps it until its time is up.
        exits.update(&now.lines, 100.0 + EXIT_MS / 2.0);
        assert_eq!(exits.leaving().len(), 1);
        exits.update(&now.lines, 100.0 + EXIT_MS);
        assert!(exits.leaving().is_empty());
        assert_eq!(exits.next_expiry(1000.0), None);
    }

    #[test]
    fn a_line_that_comes_back_stops_leaving() {
        let mut p = Playground::new(Lang::En);
        p.reduce(Action::ApplyChapter);
        let mut exits = Exits::default();
        let full = p.map();
        exits.update(&layout(&full).lines, 0.0);
        exits.update(&[], 10.0);
        assert_eq!(exits.leaving().len(), layout(&full).lines.len());
        exits.update(&layout(&full).lines, 20.0);
        assert!(exits.leaving().is_empty());
    }

    #[test]
    fn a_pod_keeps_its_row_and_a_replacement_takes_the_free_one() {
        let mut p = Playground::new(Lang::En);
        p.reduce(Action::ApplyChapter);
        p.reduce(Action::Scale(6));
        let mut slots = Slots::default();
        let before = p.map();
        let first = layout_in(&before, &mut slots);
        // At first, pods are in name order, as `layout` places them.
        assert_eq!(first, layout(&before));
        let rect_of = |l: &Layout, name: &str| {
            l.nodes
                .iter()
                .flat_map(|n| n.pods.iter())
                .find(|b| b.pod.name == name)
                .map(|b| b.rect)
        };
        let node = before
            .nodes
            .iter()
            .find(|n| {
                n.pods
                    .iter()
                    .filter(|p| p.name.starts_with("httpd-"))
                    .count()
                    >= 2
            })
            .unwrap();
        let victim = node
            .pods
            .iter()
            .find(|p| p.name.starts_with("httpd-"))
            .unwrap();
        let victim_rect = rect_of(&first, &victim.name).unwrap();
        p.reduce(Action::DeletePod(victim.name.clone()));
        let after = p.map();
        let second = layout_in(&after, &mut slots);
        // Every pod that stayed is where it was.
        for n in &before.nodes {
            for pod in &n.pods {
                if let Some(r) = rect_of(&second, &pod.name) {
                    assert_eq!(Some(r), rect_of(&first, &pod.name), "{} moved", pod.name);
                }
            }
        }
        // The new pod sits in a free row: the victim's, if it landed on the same node, or the
        // first one after the others.
        let new: Vec<&str> = after
            .pods()
            .map(|p| p.name.as_str())
            .filter(|n| rect_of(&first, n).is_none())
            .collect();
        assert_eq!(new.len(), 1);
        let new_rect = rect_of(&second, new[0]).unwrap();
        let taken: Vec<Rect> = second
            .nodes
            .iter()
            .flat_map(|n| n.pods.iter())
            .filter(|b| b.pod.name != new[0])
            .map(|b| b.rect)
            .collect();
        assert!(!taken.contains(&new_rect));
        if new_rect.x == victim_rect.x {
            assert_eq!(new_rect, victim_rect);
        }
    }
}
