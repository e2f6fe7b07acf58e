//! The backward pass: an iterative topological walk over the graph (no
//! recursion, so very long chains cannot overflow the stack).

use super::grad_mode::GradModeGuard;
use super::node::{Edge, Node};
use crate::error::{Error, Result};
use crate::ops;
use crate::tensor::Tensor;
// Keys are node and tensor ids: FxHash, not the default SipHash (5% of a
// 100-op backward went to hashing).
use rustc_hash::FxHashMap as HashMap;
use std::sync::Arc;

fn key(n: &Arc<Node>) -> usize {
    Arc::as_ptr(n) as usize
}

fn accumulate(slot: &mut Option<Tensor>, g: Tensor) -> Result<()> {
    *slot = Some(match slot.take() {
        None => g,
        Some(prev) => ops::binary::add(&prev, &g)?,
    });
    Ok(())
}

/// Gradient for the root: the given one, or 1 for a scalar.
fn root_grad(root: &Tensor, given: Option<&Tensor>) -> Result<Tensor> {
    match given {
        Some(g) => {
            if g.shape() != root.shape() {
                return Err(Error::Runtime(format!(
                    "Mismatch in shape: grad_output[0] has a shape of {:?} and output[0] has a shape of {:?}.",
                    g.shape(),
                    root.shape()
                )));
            }
            Ok(g.cast_raw(root.dtype()))
        }
        None => {
            if root.numel() != 1 {
                return Err(Error::Runtime(
                    "grad can be implicitly created only for scalar outputs".into(),
                ));
            }
            ops::creation::full_on(root.shape(), 1.0, root.dtype(), root.device())
        }
    }
}

/// Store a finished gradient into a leaf's `.grad`, running its hooks first.
/// Whether `t` is the only handle on its buffer: no other tensor shares the
/// storage, except `t`'s own view base when nothing else holds that base
/// (a gradient computed transposed, as for Linear's weight, is such a view).
fn owns_storage_alone(t: &Tensor) -> bool {
    if Arc::strong_count(&t.0) != 1 {
        return false;
    }
    let base_refs = match &t.0.autograd.lock().view_base {
        Some(b) if Arc::ptr_eq(b.storage(), t.storage()) && Arc::strong_count(&b.0) == 1 => 1,
        Some(_) => return false,
        None => 0,
    };
    Arc::strong_count(t.storage()) == 1 + base_refs
}

fn accumulate_leaf(leaf: &Tensor, mut g: Tensor) -> Result<()> {
    let hooks = leaf.0.autograd.lock().hooks.clone();
    for h in hooks {
        if let Some(ng) = h(&g)? {
            g = ng;
        }
    }
    let prev = leaf.grad();
    let new = match prev {
        None => {
            // Keep .grad independent of any buffer the graph may still share:
            // steal a gradient nobody else can see, copy any other. Under
            // create_graph the copy stays differentiable (higher derivatives
            // through `.grad`, as PyTorch's CopyBackwards).
            if super::is_grad_enabled() {
                ops::shape::clone(&g)?
            } else if g.is_contiguous() && owns_storage_alone(&g) {
                // A plain tensor on the same buffer (no view bookkeeping).
                g.detach()
            } else {
                ops::shape::clone(&g.detach())?
            }
        }
        // Outside create_graph the sum is written into the existing .grad,
        // as PyTorch's AccumulateGrad does (`variable_grad += new_grad`:
        // one pass over memory, and a tensor held as `x.grad` sees it).
        Some(p) if !super::is_grad_enabled() && ops::inplace::add_assign(&p, &g)? => p,
        Some(p) => ops::binary::add(&p, &g)?,
    };
    let new = if super::is_grad_enabled() {
        new
    } else {
        new.detach()
    };
    leaf.set_grad(Some(new));
    let post = leaf.0.autograd.lock().post_accumulate_hooks.clone();
    for h in post {
        h(leaf)?;
    }
    Ok(())
}

/// Leaf gradients of one backward pass: summed per leaf, and handed to
/// `accumulate_leaf` once the last edge into the leaf has been processed.
#[derive(Default)]
struct LeafGrads {
    /// Per leaf (keyed by its tensor header): edges still to be processed and
    /// the gradient summed so far.
    pending: HashMap<usize, (usize, Option<Tensor>, Tensor)>,
}

impl LeafGrads {
    fn leaf_key(t: &Tensor) -> usize {
        Arc::as_ptr(&t.0) as usize
    }

    fn entry(&mut self, t: &Tensor) -> &mut (usize, Option<Tensor>, Tensor) {
        self.pending
            .entry(Self::leaf_key(t))
            .or_insert_with(|| (0, None, t.clone()))
    }

    fn expect_edge(&mut self, t: &Tensor) {
        self.entry(t).0 += 1;
    }

    fn add(&mut self, t: &Tensor, g: Tensor) -> Result<()> {
        let slot = &mut self.entry(t).1;
        accumulate(slot, g)
    }

    /// One edge into `t` is done; the last one stores the sum.
    fn edge_done(&mut self, t: &Tensor) -> Result<()> {
        let k = Self::leaf_key(t);
        let Some(e) = self.pending.get_mut(&k) else {
            return Ok(());
        };
        e.0 = e.0.saturating_sub(1);
        if e.0 == 0 {
            if let Some((_, Some(g), leaf)) = self.pending.remove(&k) {
                accumulate_leaf(&leaf, g)?;
            }
        }
        Ok(())
    }

    fn flush_rest(&mut self) -> Result<()> {
        for (_, (_, g, leaf)) in self.pending.drain() {
            if let Some(g) = g {
                accumulate_leaf(&leaf, g)?;
            }
        }
        Ok(())
    }
}

/// Run the backward pass from `roots`.
///
/// With `capture` = Some(inputs), returns the gradients of those tensors
/// instead of accumulating into leaves (`autograd.grad`).
pub fn run(
    roots: &[Tensor],
    grad_roots: &[Option<Tensor>],
    retain_graph: bool,
    create_graph: bool,
    capture: Option<&[Tensor]>,
    allow_unused: bool,
) -> Result<Vec<Option<Tensor>>> {
    let _mode = GradModeGuard::new(create_graph);
    let mut captured: Vec<Option<Tensor>> = vec![None; capture.map_or(0, |c| c.len())];
    // Which captured inputs are leaves (matched on Edge::Leaf) and which are
    // outputs of nodes (matched on the node's output slot).
    let capture_leaf =
        |t: &Tensor| -> Option<usize> { capture?.iter().position(|c| c.same_tensor(t)) };
    let mut capture_node: HashMap<(usize, usize), Vec<usize>> = HashMap::default();
    if let Some(c) = capture {
        for (i, t) in c.iter().enumerate() {
            if !t.requires_grad() {
                return Err(Error::Runtime(format!(
                    "One of the differentiated Tensors (input {i}) does not require grad"
                )));
            }
            if let Some(f) = t.grad_fn() {
                let nr = t.0.autograd.lock().output_nr;
                capture_node.entry((key(&f), nr)).or_default().push(i);
            }
        }
    }

    // Gradients reaching each leaf are summed first, so its hooks and
    // `.grad` see the total once (PyTorch's AccumulateGrad). A leaf is
    // stored as soon as the last edge into it has been processed, while the
    // rest of the graph still runs: what its hooks start (DDP's bucket
    // all-reduce) overlaps the remaining backward, as in PyTorch.
    let mut leaf_grads = LeafGrads::default();

    // Seed the root gradients.
    let mut buffers: HashMap<usize, Vec<Option<Tensor>>> = HashMap::default();
    let mut start: Vec<Arc<Node>> = Vec::new();
    for (i, r) in roots.iter().enumerate() {
        if !r.requires_grad() {
            return Err(Error::Runtime(format!(
                "element {i} of tensors does not require grad and does not have a grad_fn"
            )));
        }
        let g = root_grad(r, grad_roots.get(i).and_then(|g| g.as_ref()))?;
        match r.grad_fn() {
            Some(f) => {
                let nr = r.0.autograd.lock().output_nr;
                let buf = buffers
                    .entry(key(&f))
                    .or_insert_with(|| vec![None; f.num_outputs]);
                accumulate(&mut buf[nr], g)?;
                start.push(f);
            }
            None => match capture_leaf(r) {
                Some(ci) => accumulate(&mut captured[ci], g)?,
                None if capture.is_some() => {}
                None => leaf_grads.add(r, g)?,
            },
        }
    }

    // Count, for every reachable node, how many edges point at it.
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
            match e {
                Edge::Node(m, _) => {
                    *deps.entry(key(m)).or_insert(0) += 1;
                    if seen.insert(key(m), ()).is_none() {
                        stack.push(m.clone());
                    }
                }
                Edge::Leaf(t) => leaf_grads.expect_edge(t),
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
        let k = key(&node);
        let mut grads = buffers
            .remove(&k)
            .unwrap_or_else(|| vec![None; node.num_outputs]);
        // Hooks and retain_grad on this node's outputs.
        let hooks = node.hooks.lock().clone();
        for (nr, h) in hooks {
            if let Some(g) = &grads[nr] {
                if let Some(ng) = h(g)? {
                    grads[nr] = Some(ng);
                }
            }
        }
        for (nr, w) in node.retained.lock().iter() {
            if let (Some(g), Some(t)) = (&grads[*nr], w.upgrade()) {
                let t = Tensor(t);
                // differentiable under create_graph, as a leaf's (see accumulate_leaf)
                let new = match t.grad() {
                    None if create_graph => ops::shape::clone(g)?,
                    None => ops::shape::clone(&g.detach())?,
                    Some(p) => ops::binary::add(&p, g)?,
                };
                t.set_grad(Some(new));
            }
        }
        for (nr, g) in grads.iter().enumerate() {
            if let (Some(g), Some(idx)) = (g, capture_node.get(&(k, nr))) {
                for &ci in idx {
                    accumulate(&mut captured[ci], g.clone())?;
                }
            }
        }

        let input_grads = if grads.iter().all(|g| g.is_none()) {
            Ok(vec![None; node.next.len()])
        } else {
            // Under create_graph, saved outputs re-attach to the running node.
            let _running = create_graph.then(|| super::node::RunningNodeGuard::new(node.clone()));
            crate::profiler::measure(node.name, crate::profiler::Kind::Backward, || {
                node.take_or_call(&grads, retain_graph)
            })
        };
        let input_grads = input_grads
            .and_then(|g| super::anomaly::check_backward_outputs(node.name, &g).map(|()| g))
            .inspect_err(|_| {
                super::anomaly::report_failed_backward(node.name, node.forward_stack.as_deref())
            })?;

        for (edge, g) in node
            .next
            .iter()
            .zip(input_grads.into_iter().chain(std::iter::repeat(None)))
        {
            let Some(edge) = edge else { continue };
            match edge {
                Edge::Node(m, nr) => {
                    let mk = key(m);
                    if let Some(g) = g {
                        let buf = buffers
                            .entry(mk)
                            .or_insert_with(|| vec![None; m.num_outputs]);
                        accumulate(&mut buf[*nr], g)?;
                    }
                    let d = deps.get_mut(&mk).expect("counted");
                    *d -= 1;
                    if *d == 0 {
                        ready.push(m.clone());
                    }
                }
                Edge::Leaf(t) => {
                    if let Some(g) = g {
                        // A leaf's gradient has the leaf's dtype (an op that
                        // computed in a wider type hands back a wider one).
                        let g = if g.dtype() != t.dtype() && t.dtype().is_float() {
                            ops::unary::to_dtype(&g, t.dtype())?
                        } else {
                            g
                        };
                        match capture_leaf(t) {
                            Some(ci) => accumulate(&mut captured[ci], g)?,
                            None if capture.is_some() => {}
                            None => leaf_grads.add(t, g)?,
                        }
                    }
                    if capture.is_none() {
                        leaf_grads.edge_done(t)?;
                    }
                }
            }
        }
    }

    // Leaves given only as roots (no edge leads to them).
    leaf_grads.flush_rest()?;

    if capture.is_some() && !allow_unused {
        if let Some(i) = captured.iter().position(|g| g.is_none()) {
            return Err(Error::Runtime(format!(
                "One of the differentiated Tensors (input {i}) appears to not have been used in the graph. Set allow_unused=True if this is the desired behavior."
            )));
        }
    }
    Ok(captured)
}

/// `tensor.backward(gradient, retain_graph, create_graph)`.
pub fn backward(
    root: &Tensor,
    gradient: Option<&Tensor>,
    retain_graph: bool,
    create_graph: bool,
) -> Result<()> {
    run(
        std::slice::from_ref(root),
        &[gradient.cloned()],
        retain_graph || create_graph,
        create_graph,
        None,
        true,
    )?;
    Ok(())
}

/// `tensor.backward(gradient, retain_graph, create_graph, inputs=...)`: the
/// gradients of `inputs` only, accumulated into their `.grad` (leaves through
/// their hooks, as a plain backward would; non-leaf inputs get a `.grad` too,
/// as in PyTorch). Other leaves are left alone.
pub fn backward_into(
    root: &Tensor,
    gradient: Option<&Tensor>,
    retain_graph: bool,
    create_graph: bool,
    inputs: &[Tensor],
) -> Result<()> {
    if inputs.is_empty() {
        return Err(Error::Runtime(
            "`inputs` argument to `backward()` cannot be empty.".into(),
        ));
    }
    let grads = run(
        std::slice::from_ref(root),
        &[gradient.cloned()],
        retain_graph || create_graph,
        create_graph,
        Some(inputs),
        true,
    )?;
    let _mode = GradModeGuard::new(create_graph);
    for (t, g) in inputs.iter().zip(grads) {
        if let Some(g) = g {
            accumulate_leaf(t, g)?;
        }
    }
    Ok(())
}

/// `torch.autograd.grad(outputs, inputs, grad_outputs, ...)`.
pub fn grad(
    outputs: &[Tensor],
    inputs: &[Tensor],
    grad_outputs: &[Option<Tensor>],
    retain_graph: bool,
    create_graph: bool,
    allow_unused: bool,
) -> Result<Vec<Option<Tensor>>> {
    run(
        outputs,
        grad_outputs,
        retain_graph,
        create_graph,
        Some(inputs),
        allow_unused,
    )
}
