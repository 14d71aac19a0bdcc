//! Where the cluster map's SVG puts things: a pure function of a [`ClusterMap`], so the Yew view
//! only copies coordinates into elements.
//!
//! Services sit in a row at the top; below, one column per node with its pods stacked inside;
//! each endpoint line runs from its Service's box to the pod box behind it (or to the node,
//! for endpoints such as `default/kubernetes` that are not pods).

use crate::map::{ClusterMap, EndpointLine, NodeView, PodView, ServiceView};

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
    /// The pod.
    pub pod: &'a PodView,
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

/// Lays `map` out.
pub fn layout(map: &ClusterMap) -> Layout<'_> {
    let columns = map.nodes.len().max(map.services.len()).max(1) as f32;
    let width = 2.0 * MARGIN + columns * COLUMN + (columns - 1.0) * GAP;
    let nodes: Vec<NodeBox> = map
        .nodes
        .iter()
        .enumerate()
        .map(|(i, node)| {
            let x = MARGIN + i as f32 * (COLUMN + GAP);
            let pods: Vec<PodBox> = node
                .pods
                .iter()
                .enumerate()
                .map(|(j, pod)| PodBox {
                    pod,
                    rect: Rect {
                        x: x + 10.0,
                        y: NODES_Y + NODE_HEADER + j as f32 * (POD_H + POD_GAP),
                        w: COLUMN - 20.0,
                        h: POD_H,
                    },
                })
                .collect();
            let h = NODE_HEADER + node.pods.len() as f32 * (POD_H + POD_GAP) + 10.0;
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
    for s in &services {
        for endpoint in &s.service.endpoints {
            let pod = nodes.iter().flat_map(|n| n.pods.iter()).find(|p| {
                endpoint.pod.as_deref() == Some(p.pod.name.as_str())
                    || p.pod.ip.as_deref() == Some(endpoint.ip.as_str())
            });
            let to = match pod {
                Some(p) => Some(p.rect.top_center()),
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

#[cfg(test)]
mod tests {
    use super::*;
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
}
