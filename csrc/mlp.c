/* mlp.c -- a whole network on caller-owned buffers: forward, loss + gradient, train step, epoch (fastmlp.h). */
#include "internal.h"

#define FM_ALIGN ((size_t)64)

static inline uintptr_t fm_align_up(uintptr_t p) { return (p + FM_ALIGN - 1) & ~(uintptr_t)(FM_ALIGN - 1); }
static inline size_t fm_round_up(size_t n) { return (n + FM_ALIGN - 1) & ~(FM_ALIGN - 1); }

static int fm_mlp_check(const fm_mlp *net) {
    if (!net) return FM_ENULL;
    if (net->n_layers == 0 || net->n_layers > FM_MAX_LAYERS) return FM_ESIZE;
    for (size_t l = 0; l <= net->n_layers; l++)
        if (net->sizes[l] == 0) return FM_ESIZE;
    for (size_t l = 0; l < net->n_layers; l++) {
        size_t t;
        if (!fm_act_valid(net->acts[l])) return FM_EENUM;
        if (fm_mul_size(net->sizes[l], net->sizes[l + 1], &t)) return FM_EOVERFLOW;
    }
    if (net->loss != FM_LOSS_MSE && net->loss != FM_LOSS_SOFTMAX_CE && net->loss != FM_LOSS_SIGMOID_BCE &&
        net->loss != FM_LOSS_POISSON)
        return FM_EENUM;
    /* the cross-entropy losses take logits, Poisson the log-mean: the output layer must be linear */
    if (net->loss != FM_LOSS_MSE && net->acts[net->n_layers - 1] != FM_ACT_IDENTITY) return FM_EVALUE;
    return FM_OK;
}

/* number of parameters of a network that passed fm_mlp_check */
static int fm_mlp_count(const fm_mlp *net, size_t *count) {
    size_t total = 0;
    const size_t lim = (uint64_t)PTRDIFF_MAX / 16 < FM_MAX_PARAMS ? (size_t)PTRDIFF_MAX / 16 : (size_t)FM_MAX_PARAMS;
    for (size_t l = 0; l < net->n_layers; l++) {
        const size_t layer = net->sizes[l + 1] * net->sizes[l] + net->sizes[l + 1]; /* checked by fm_mlp_check */
        if (layer > lim || total > lim - layer) return FM_EOVERFLOW;
        total += layer;
    }
    *count = total;
    return FM_OK;
}

int fm_mlp_num_params(const fm_mlp *net, size_t *count) {
    int rc = fm_mlp_check(net);
    if (!count) return FM_ENULL;
    if (rc) return rc;
    return fm_mlp_count(net, count);
}

static int fm_optim_check(const fm_optim *opt) {
    if (!opt) return FM_ENULL;
    if (!fm_finite_nonneg(opt->lr) || !fm_finite_nonneg(opt->weight_decay) || !fm_finite_nonneg(opt->l1))
        return FM_EVALUE;
    if (opt->kind == FM_OPT_SGD) {
        if (!(opt->momentum >= 0.0 && opt->momentum < 1.0) || (opt->nesterov && opt->momentum == 0.0))
            return FM_EVALUE;
    } else if (opt->kind == FM_OPT_ADAM) {
        if (!(opt->beta1 >= 0.0 && opt->beta1 < 1.0) || !(opt->beta2 >= 0.0 && opt->beta2 < 1.0) ||
            !(isfinite(opt->eps) && opt->eps > 0.0))
            return FM_EVALUE;
    } else {
        return FM_EENUM;
    }
    return FM_OK;
}

/* optimizer state length for a checked network with P parameters */
static int fm_state_count(const fm_optim *opt, size_t P, size_t *count) {
    int rc = fm_optim_check(opt);
    if (rc) return rc;
    *count = opt->kind == FM_OPT_ADAM ? 2 * P : (opt->momentum != 0.0 ? P : 0);
    return FM_OK;
}

int fm_mlp_state_size(const fm_mlp *net, const fm_optim *opt, size_t *count) {
    size_t P;
    int rc = fm_mlp_num_params(net, &P);
    if (!count) return FM_ENULL;
    if (rc) return rc;
    return fm_state_count(opt, P, count);
}

#include <float.h>

/* bytes of the mixed products' scratch (bf16_train.c) for a checked network: the largest over the layers, 0 when
 * one does not fit the size limit */
static size_t mix_bytes_f32(const fm_mlp *net, size_t batch) {
    size_t most = 0, b;
    for (size_t l = 0; l < net->n_layers; l++) {
        if (fmi_mixed_scratch_bytes(batch, net->sizes[l], net->sizes[l + 1], &b) || b > (size_t)PTRDIFF_MAX / 4)
            return 0;
        most = b > most ? b : most;
    }
    return most;
}

/* the x pairs of every layer (fmi_mixed_pairs_bytes), one after another; 0 past the size limit */
static size_t mixp_bytes_f32(const fm_mlp *net, size_t batch) {
    size_t sum = 0, b;
    for (size_t l = 0; l < net->n_layers; l++) {
        if (fmi_mixed_pairs_bytes(batch, net->sizes[l], &b) || b > (size_t)PTRDIFF_MAX / 64) return 0;
        sum += b;
    }
    return sum;
}

#define T float
#define SUF _f32
#define FM_TMAX FLT_MAX
#define FM_MLP_MIXED 1
#include "mlp.inc"
#undef FM_MLP_MIXED
#undef FM_TMAX
#undef T
#undef SUF

#define T double
#define SUF _f64
#define FM_TMAX DBL_MAX
#define FM_MLP_MIXED 0
#include "mlp.inc"
#undef FM_MLP_MIXED
#undef FM_TMAX
#undef T
#undef SUF

/* ---- mixed precision (bf16 products, float32 everything else): the float32 functions on the layout with the
 * bf16 scratch (dense = 2 in ws_layout) and inputs marked mixed ---- */
int fm_mlp_workspace_size_bf16(const fm_mlp *net, size_t *bytes, size_t batch) {
    return workspace_size_f32(net, bytes, batch, 2);
}

int fm_mlp_loss_grad_bf16(const fm_mlp *net, const float *params, const float *x, const float *t, const int64_t *y,
                          const float *sw, float *grads, double *loss, void *work, size_t n, size_t work_batch) {
    size_t P;
    int rc = check_train_f32(net, params, t, y, &P, work, work_batch, 2);
    if (rc) return rc;
    if (!x) return FM_ENULL;
    const fm_input_f32 in = {x, NULL, NULL, NULL, NULL, 1};
    return loss_grad_in_f32(net, params, &in, t, y, sw, grads, loss, work, n, work_batch, 2, P);
}

int fm_mlp_train_step_bf16(const fm_mlp *net, const fm_optim *opt, const float *x, const float *t, const int64_t *y,
                           const float *sw, float *params, float *state, float *grads, double *loss, void *work,
                           size_t n, size_t work_batch, uint64_t step) {
    size_t P;
    int rc = check_train_f32(net, params, t, y, &P, work, work_batch, 2);
    if (rc) return rc;
    if (!x) return FM_ENULL;
    const fm_input_f32 in = {x, NULL, NULL, NULL, NULL, 1};
    return train_step_in_f32(net, opt, &in, t, y, sw, params, state, grads, loss, work, n, work_batch, step, 2, P, NULL);
}

int fm_mlp_train_epoch_bf16(const fm_mlp *net, const fm_optim *opt, const float *X, const float *t, const int64_t *y,
                            const float *sw, const int64_t *order, float *params, float *state, float *grads,
                            uint64_t *step, double *mean_loss, void *work, size_t n_samples, size_t n_order,
                            size_t batch) {
    size_t P;
    int rc = check_train_f32(net, params, t, y, &P, work, batch, 2);
    if (rc) return rc;
    if (!X) return FM_ENULL;
    const fm_input_f32 src = {X, NULL, NULL, NULL, NULL, 1};
    return train_epoch_in_f32(net, opt, &src, t, y, sw, order, params, state, grads, step, mean_loss, work, n_samples,
                              n_order, batch, 2, P);
}
