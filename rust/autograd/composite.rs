//! Double backward by differentiating a composite forward.
//!
//! A fused op (a norm, cross-entropy) computes its first-order gradient with a
//! kernel over plain slices: fast, but the result is a constant to autograd.
//! Under `create_graph=True` its backward closure calls [`vjp`] instead: the
//! op is computed again from its saved inputs as a composite of
//! differentiable ops (recorded, since grad mode is on), and that small graph
//! is walked backward here from the composite's outputs to the inputs. The
//! gradients come out of the composite nodes' own backward closures run in
//! grad mode, so they are ordinary graph tensors depending on the inputs and
//! on the incoming gradient: second, third, ... derivatives follow.
//!
//! Why a walk of its own instead of `engine::grad`: the composite is built on
//! the real inputs (so the gradient's graph reaches their history), and the
//! engine would walk on through that history and run nodes that are none of
//! its business. This walk stops at the inputs: every edge that leaves the
//! composite points at an input (its node output, or the input itself when it
//! is a leaf), since the composite reads nothing else that requires grad.

use super::node::{Edge, Node};
use super::GradModeGuard;
use crate::error::Result;
use crate::tensor::Tensor;
use rustc_hash::FxHashMap as HashMap;
use std::sync::Arc;

fn key(n: &Arc<Node>) -> usize {
    Arc::as_ptr(n) as usize
}

fn accumulate(slot: &mut Option<Tensor>, g: Tensor) -> Result<()> {
    *slot = Some(match slot.take() {
        None => g,
        Some(prev) => crate::ops::binary::add(&prev, &g)?,
    });
    Ok(())
}

/// True when a backward closure must build a differentiable gradient: grad
/// mode is on (the engine runs with `create_graph=True`) and the incoming
/// gradient or one of the saved inputs takes part in a graph.
pub fn wants_graph(grad: &Tensor, inputs: &[&Tensor]) -> bool {
    super::is_grad_enabled() && (grad.requires_grad() || inputs.iter().any(|t| t.requires_grad()))
}

/// Gradients of `inputs` for `outputs = forward(inputs)`, given the outputs'
/// gradients, as differentiable tensors (a vector-Jacobian product through
/// the composite `forward`). `None` for an input that does not require grad
/// or that no output depends on. Call it in grad mode from a backward
/// closure; `forward` must read no tensor requiring grad other than `inputs`.
pub fn vjp(
    inputs: &[&Tensor],
    grad_outputs: &[Option<Tensor>],
    forward: impl FnOnce(&[&Tensor]) -> Result<Vec<Tensor>>,
) -> Result<Vec<Option<Tensor>>> {
    let _mode = GradModeGuard::new(true);
    let outputs = forward(inputs)?;
    let mut captured: Vec<Option<Tensor>> = vec![None; inputs.len()];

    // Where the walk stops: each input's node output, or the input itself
    // when it is a leaf. An input passed twice gets the whole gradient once.
    let mut stop_slot: HashMap<(usize, usize), usize> = HashMap::default();
    let mut stop_node: HashMap<usize, ()> = HashMap::default();
    for (i, t) in inputs.iter().enumerate() {
        if !t.requires_grad() {
            continue;
        }
        if let Some(f) = t.grad_fn() {
            let nr = t.0.autograd.lock().output_nr;
            stop_slot.entry((key(&f), nr)).or_insert(i);
            stop_node.insert(key(&f), ());
        }
    }
    let leaf_input = |t: &Tensor| {
        inputs
            .iter()
            .position(|c| c.grad_fn().is_none() && c.same_tensor(t))
    };

    let mut buffers: HashMap<usize, Vec<Option<Tensor>>> = HashMap::default();
    let mut start: Vec<Arc<Node>> = Vec::new();
    for (o, g) in outputs.iter().zip(grad_outputs) {
        let Some(g) = g else { continue };
        if !o.requires_grad() {
            continue;
        }
        match o.grad_fn() {
            Some(f) => {
                let nr = o.0.autograd.lock().output_nr;
                if let Some(&i) = stop_slot.get(&(key(&f), nr)) {
                    accumulate(&mut captured[i], g.clone())?;
                } else if !stop_node.contains_key(&key(&f)) {
                    let buf = buffers
                        .entry(key(&f))
                        .or_insert_with(|| vec![None; f.num_outputs]);
                    accumulate(&mut buf[nr], g.clone())?;
                    start.push(f);
                }
            }
            None => {
                if let Some(i) = leaf_input(o) {
                    accumulate(&mut captured[i], g.clone())?;
                }
            }
        }
    }

    // Dependency counts over the composite's own nodes.
    let mut deps: HashMap<usize, usize> = HashMap::default();
    let mut seen: HashMap<usize, ()> = HashMap::default();
    let mut stack: Vec<Arc<Node>> = Vec::new();
    for s in &start {
        if seen.insert(key(s), ()).is_none() {
            stack.push(s.clone());
        }
    }
    while let Some(n) = stack.pop() {
        for e in n.next.iter().flatten() {
            if let Edge::Node(m, _) = e {
                if stop_node.contains_key(&key(m)) {
                    continue;
                }
                *deps.entry(key(m)).or_insert(0) += 1;
                if seen.insert(key(m), ()).is_none() {
                    stack.push(m.clone());
                }
            }
        }
    }
    let mut ready: Vec<Arc<Node>> = Vec::new();
    let mut queued: HashMap<usize, ()> = HashMap::default();
    for s in start {
        if deps.get(&key(&s)).copied().unwrap_or(0) == 0 && queued.insert(key(&s), ()).is_none() {
            ready.push(s);
        }
    }

    while let Some(node) = ready.pop() {
        let grads = buffers
            .remove(&key(&node))
            .unwrap_or_else(|| vec![None; node.num_outputs]);
        let input_grads = if grads.iter().all(|g| g.is_none()) {
            vec![None; node.next.len()]
        } else {
            // Kept: the gradients' own graph reaches back into the
            // composite's intermediates (a saved sqrt, a softmax), whose
            // nodes the next order of backward runs again.
            // (as the engine does: saved outputs inside re-attach to this node)
            let _running = super::RunningNodeGuard::new(node.clone());
            node.take_or_call(&grads, true)?
        };
        for (edge, g) in node
            .next
            .iter()
            .zip(input_grads.into_iter().chain(std::iter::repeat(None)))
        {
            let Some(edge) = edge else { continue };
            match edge {
                Edge::Node(m, nr) => {
                    let mk = key(m);
                    if stop_node.contains_key(&mk) {
                        if let (Some(g), Some(&i)) = (g, stop_slot.get(&(mk, *nr))) {
                            accumulate(&mut captured[i], g)?;
                        }
                        continue;
                    }
                    if let Some(g) = g {
                        let buf = buffers
                            .entry(mk)
                            .or_insert_with(|| vec![None; m.num_outputs]);
                        accumulate(&mut buf[*nr], g)?;
                    }
                    if let Some(d) = deps.get_mut(&mk) {
                        *d -= 1;
                        if *d == 0 {
                            ready.push(m.clone());
                        }
                    }
                }
                Edge::Leaf(t) => {
                    if let (Some(g), Some(i)) = (g, leaf_input(t)) {
                        accumulate(&mut captured[i], g)?;
                    }
                }
            }
        }
    }

    // A gradient has its input's dtype (a composite computed wider hands
    // back a wider one) and shape.
    for (slot, t) in captured.iter_mut().zip(inputs) {
        if let Some(g) = slot.take() {
            let g = if g.dtype() != t.dtype() && t.dtype().is_float() {
                crate::ops::unary::to_dtype(&g, t.dtype())?
            } else {
                g
            };
            *slot = Some(g);
        }
    }
    Ok(captured)
}
