//! Graph nodes: one per differentiable op call, holding its backward function.

use crate::error::{Error, Result};
use crate::tensor::tensor::GradHook;
use crate::tensor::{Tensor, TensorImpl};
use parking_lot::Mutex;
use std::cell::RefCell;
use std::sync::{Arc, Weak};

/// Maps the gradients of a node's outputs to the gradients of its inputs.
/// A `None` output gradient means zero.
pub type BackwardFn = Box<dyn Fn(&[Option<Tensor>]) -> Result<Vec<Option<Tensor>>> + Send + Sync>;

/// Where the gradient of one input goes.
pub enum Edge {
    /// Into output `output_nr` of another node.
    Node(Arc<Node>, usize),
    /// Into the `.grad` of a leaf tensor.
    Leaf(Tensor),
}

pub struct Node {
    pub name: &'static str,
    backward: Mutex<Option<BackwardFn>>,
    pub next: Vec<Option<Edge>>,
    pub num_outputs: usize,
    /// Hooks registered on output tensors, by output index.
    pub hooks: Mutex<Vec<(usize, GradHook)>>,
    /// Output tensors that asked for `retain_grad()`.
    pub retained: Mutex<Vec<(usize, Weak<TensorImpl>)>>,
    /// The forward call stack, kept only in anomaly mode (see `anomaly`).
    pub forward_stack: Option<Arc<str>>,
}

impl Node {
    pub fn take_or_call(
        &self,
        grads: &[Option<Tensor>],
        retain: bool,
    ) -> Result<Vec<Option<Tensor>>> {
        let mut slot = self.backward.lock();
        let f = slot.as_ref().ok_or_else(|| {
            Error::Runtime(format!(
                "Trying to backward through the graph a second time (or directly access saved tensors after they have already been freed) in {}. Saved intermediate values of the graph are freed when you call .backward() or autograd.grad(). Specify retain_graph=True if you need to backward through the graph a second time or if you need to access saved tensors after calling backward.",
                self.name
            ))
        })?;
        let out = f(grads);
        if !retain {
            *slot = None;
        }
        out
    }
}

impl Drop for Node {
    /// Frees a long chain of nodes iteratively: the default recursive drop
    /// would overflow the stack on graphs 100k ops deep.
    fn drop(&mut self) {
        let mut stack: Vec<Arc<Node>> = Vec::new();
        let take_edges = |next: &mut Vec<Option<Edge>>, stack: &mut Vec<Arc<Node>>| {
            for e in next.drain(..).flatten() {
                if let Edge::Node(n, _) = e {
                    stack.push(n);
                }
            }
        };
        take_edges(&mut self.next, &mut stack);
        // Saved tensors may also point at earlier nodes; those are held by
        // `stack` now, so releasing them here does not recurse.
        drop(self.backward.get_mut().take());
        while let Some(n) = stack.pop() {
            if let Ok(mut inner) = Arc::try_unwrap(n) {
                take_edges(&mut inner.next, &mut stack);
                drop(inner.backward.get_mut().take());
            }
        }
    }
}

/// A tensor saved for backward, with the version it had when saved.
#[derive(Clone)]
pub struct SavedTensor {
    tensor: Tensor,
    version: u64,
    /// For an op's own output: which output of its node it is.
    output_nr: Option<usize>,
}

thread_local! {
    /// The node whose backward runs now on this thread, set by the engine
    /// only under `create_graph` (saved outputs re-attach to it).
    static RUNNING: RefCell<Option<Arc<Node>>> = const { RefCell::new(None) };
}

/// Marks `node` as the one whose backward runs, until dropped (restoring the
/// one before: a backward may run another backward, `autograd.Function`).
pub struct RunningNodeGuard(Option<Arc<Node>>);

impl RunningNodeGuard {
    pub fn new(node: Arc<Node>) -> RunningNodeGuard {
        RunningNodeGuard(RUNNING.with(|r| r.replace(Some(node))))
    }
}

impl Drop for RunningNodeGuard {
    fn drop(&mut self) {
        let prev = self.0.take();
        RUNNING.with(|r| *r.borrow_mut() = prev);
    }
}

impl SavedTensor {
    pub fn new(t: &Tensor) -> SavedTensor {
        SavedTensor {
            tensor: t.clone(),
            version: t.version(),
            output_nr: None,
        }
    }
    /// Save an op's own (first, or only) output. Only its data is kept (a
    /// handle without autograd metadata, sharing storage and version
    /// counter): holding the output itself would make a cycle
    /// output -> node -> output that leaks whenever backward never runs.
    /// `get` re-attaches it to its node under `create_graph`.
    pub fn output(t: &Tensor) -> SavedTensor {
        SavedTensor::output_nr(t, 0)
    }
    /// Save output `nr` of a multi-output op.
    pub fn output_nr(t: &Tensor, nr: usize) -> SavedTensor {
        SavedTensor {
            tensor: t.detach(),
            version: t.version(),
            output_nr: Some(nr),
        }
    }
    /// The saved tensor as saved (for an output: its data, cut from the
    /// graph). Backward formulas that use a saved *output* read it with
    /// `unpack` instead, so that `create_graph` differentiates through it.
    pub fn get(&self) -> Result<&Tensor> {
        let now = self.tensor.version();
        if now != self.version {
            return Err(Error::Runtime(format!(
                "one of the variables needed for gradient computation has been modified by an inplace operation: [torch.{} {:?}] is at version {}; expected version {} instead.",
                self.tensor.dtype().name(),
                self.tensor.shape(),
                now,
                self.version
            )));
        }
        Ok(&self.tensor)
    }
    /// The saved tensor as PyTorch's `SavedVariable::unpack` gives it: a saved
    /// output read while a backward runs with grad mode on (`create_graph`)
    /// comes back sharing the data, with the running node (the one that
    /// saved it) as its `grad_fn`, so the backward formula differentiates
    /// through it. Otherwise (first-order backward, or a saved input) the
    /// saved handle itself: one reference-count increment.
    pub fn unpack(&self) -> Result<Tensor> {
        let t = self.get()?;
        if let Some(nr) = self.output_nr {
            if super::is_grad_enabled() {
                if let Some(node) = RUNNING.with(|r| r.borrow().clone()) {
                    let t = t.detach();
                    {
                        let mut meta = t.0.autograd.lock();
                        meta.requires_grad = true;
                        meta.grad_fn = Some(node);
                        meta.output_nr = nr;
                    }
                    return Ok(t);
                }
            }
        }
        Ok(t.clone())
    }
}

/// True when an op on `inputs` must be recorded.
pub fn needs_grad(inputs: &[&Tensor]) -> bool {
    super::is_grad_enabled() && inputs.iter().any(|t| t.requires_grad())
}

/// Record an op: `outputs` (fresh tensors) get a node whose backward maps
/// their gradients to those of `inputs`. Does nothing when no input needs grad.
pub fn record(
    name: &'static str,
    inputs: &[&Tensor],
    outputs: &[&Tensor],
    backward: impl Fn(&[Option<Tensor>]) -> Result<Vec<Option<Tensor>>> + Send + Sync + 'static,
) {
    if !needs_grad(inputs) {
        return;
    }
    let next = inputs
        .iter()
        .map(|t| {
            let meta = t.0.autograd.lock();
            if !meta.requires_grad {
                None
            } else if let Some(f) = &meta.grad_fn {
                Some(Edge::Node(f.clone(), meta.output_nr))
            } else {
                Some(Edge::Leaf((*t).clone()))
            }
        })
        .collect();
    let node = Arc::new(Node {
        name,
        backward: Mutex::new(Some(Box::new(backward))),
        next,
        num_outputs: outputs.len(),
        hooks: Mutex::new(Vec::new()),
        retained: Mutex::new(Vec::new()),
        forward_stack: super::anomaly::forward_call_stack(),
    });
    for (i, o) in outputs.iter().enumerate() {
        let mut meta = o.0.autograd.lock();
        meta.requires_grad = true;
        meta.grad_fn = Some(node.clone());
        meta.output_nr = i;
    }
}
