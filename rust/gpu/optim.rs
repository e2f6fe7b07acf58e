//! Optimizer updates on the device: each parameter's state and the parameter
//! itself are updated in place by elementwise kernels (the same formulas as
//! `crate::optim`, which runs them fused on the CPU).

use super::kernels::map_into;
use crate::error::Result;
use crate::optim::adam::{AdamHyper, AdamStep};
use crate::optim::sgd::SgdHyper;
use crate::tensor::Tensor;

/// The gradient as the update sees it, from the loaded values `grad` and
/// `param`: sign-flipped for maximize, plus L2 decay (`p(0u)` = weight decay).
/// The parameter is read (and so passed as an input) only with L2 decay.
fn grad_expr(grad: &str, param: &str, maximize: bool, l2: bool) -> String {
    let g = if maximize {
        format!("-{grad}")
    } else {
        grad.to_string()
    };
    if l2 {
        format!("({g} + p(0u) * {param})")
    } else {
        format!("({g})")
    }
}

/// `inputs` followed by the parameter when L2 decay reads it.
fn with_param<'a>(inputs: &[&'a Tensor], param: &'a Tensor, l2: bool) -> Vec<&'a Tensor> {
    let mut v = inputs.to_vec();
    if l2 {
        v.push(param);
    }
    v
}

pub fn sgd(
    params: &[Tensor],
    grads: &[Tensor],
    bufs: &[Tensor],
    first: &[bool],
    h: &SgdHyper,
) -> Result<()> {
    let l2 = h.weight_decay != 0.0;
    let (wd, lr) = (h.weight_decay as f32, h.lr as f32);
    for (i, (p, g)) in params.iter().zip(grads).enumerate() {
        let g = &g.cast_raw(p.dtype());
        let Some(buf) = bufs.get(i) else {
            let d = grad_expr("b", "a", h.maximize, l2);
            map_into(&format!("a - p(1u) * {d}"), &[p, g], &[wd, lr], p)?;
            continue;
        };
        // buf = first ? d : momentum * buf + (1 - dampening) * d
        if first.get(i).copied().unwrap_or(false) {
            let d = grad_expr("a", "b", h.maximize, l2);
            map_into(&d, &with_param(&[g], p, l2), &[wd], buf)?;
        } else {
            let d = grad_expr("b", "c", h.maximize, l2);
            let hyper = [wd, h.momentum as f32, (1.0 - h.dampening) as f32];
            map_into(
                &format!("p(1u) * a + p(2u) * {d}"),
                &with_param(&[buf, g], p, l2),
                &hyper,
                buf,
            )?;
        }
        // p -= lr * (nesterov ? d + momentum * buf : buf)
        if h.nesterov {
            let d = grad_expr("b", "a", h.maximize, l2);
            let hyper = [wd, lr, h.momentum as f32];
            map_into(
                &format!("a - p(1u) * ({d} + p(2u) * c)"),
                &[p, g, buf],
                &hyper,
                p,
            )?;
        } else {
            map_into("a - p(1u) * b", &[p, buf], &[wd, lr], p)?;
        }
    }
    Ok(())
}

pub fn adam(
    params: &[Tensor],
    grads: &[Tensor],
    exp_avgs: &[Tensor],
    exp_avg_sqs: &[Tensor],
    per: &[AdamStep],
    h: &AdamHyper,
) -> Result<()> {
    let l2 = h.weight_decay != 0.0 && !h.decoupled;
    let d = grad_expr("b", "c", h.maximize, l2);
    let wd = h.weight_decay as f32;
    let decay = if h.weight_decay != 0.0 && h.decoupled {
        (1.0 - h.lr * h.weight_decay) as f32
    } else {
        1.0
    };
    for (i, p) in params.iter().enumerate() {
        let g = &grads[i].cast_raw(p.dtype());
        let (m, v) = (&exp_avgs[i], &exp_avg_sqs[i]);
        let s = &per[i];
        // m += (1 - beta1) * (d - m);  v = beta2 * v + (1 - beta2) * d * d
        let hyper = [wd, (1.0 - h.beta1) as f32];
        map_into(
            &format!("a + p(1u) * ({d} - a)"),
            &with_param(&[m, g], p, l2),
            &hyper,
            m,
        )?;
        let hyper = [wd, h.beta2 as f32, (1.0 - h.beta2) as f32];
        map_into(
            &format!("p(1u) * a + p(2u) * {d} * {d}"),
            &with_param(&[v, g], p, l2),
            &hyper,
            v,
        )?;
        let hyper = [
            decay,
            s.step_size as f32,
            s.bias_correction2_sqrt as f32,
            h.eps as f32,
        ];
        map_into(
            "a * p(0u) - p(1u) * b / (sqrt(c) / p(2u) + p(3u))",
            &[p, m, v],
            &hyper,
            p,
        )?;
    }
    Ok(())
}
