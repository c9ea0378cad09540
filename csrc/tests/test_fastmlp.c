/* C tests of the fastmlp core through its public header alone: every kernel against a double-precision
 * reference written here, a finite-difference gradient check, one SGD step equal to -lr x the numeric gradient,
 * bit-identical results for any thread count, and every argument check. Prints "N passed, M failed". */
#define _POSIX_C_SOURCE 200809L /* setenv under -std=c11 */
#include "fastmlp.h"

#include <math.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int passed, failed;
#define CHECK(cond, ...)                                                                                      \
    do {                                                                                                      \
        if (cond) {                                                                                           \
            passed++;                                                                                         \
        } else {                                                                                              \
            failed++;                                                                                         \
            printf("FAIL %s:%d: ", __FILE__, __LINE__);                                                       \
            printf(__VA_ARGS__);                                                                              \
            printf("\n");                                                                                     \
        }                                                                                                     \
    } while (0)

static uint64_t rng_state = 88172645463325252ull;
static double urand(void) { /* xorshift64, uniform in [-1.5, 1.5) */
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return ((double)(rng_state >> 11) / 9007199254740992.0) * 3.0 - 1.5;
}

static double act_ref(double z, fm_act a) {
    switch (a) {
    case FM_ACT_RELU: return z > 0 ? z : 0;
    case FM_ACT_SIGMOID: return 1.0 / (1.0 + exp(-z));
    case FM_ACT_TANH: return tanh(z);
    default: return z;
    }
}

static double dact_ref(double p, fm_act a) {
    switch (a) {
    case FM_ACT_RELU: return p > 0 ? 1 : 0;
    case FM_ACT_SIGMOID: return p * (1 - p);
    case FM_ACT_TANH: return 1 - p * p;
    default: return 1;
    }
}

/* |a - b| <= tol * (|b| + scale), elementwise, scale = max(1, max|b|) */
static int close_to(const double *got, const double *want, size_t n, double tol) {
    double scale = 1.0;
    for (size_t i = 0; i < n; i++) scale = fabs(want[i]) > scale ? fabs(want[i]) : scale;
    for (size_t i = 0; i < n; i++)
        if (!(fabs(got[i] - want[i]) <= tol * (fabs(want[i]) + scale))) return 0;
    return 1;
}

/* the same test body for float and double: T, SUF, TOL */
#define DEFINE_LAYER_TEST(T, SUF, TOL)                                                                        \
    static void test_layer##SUF(size_t n, size_t ni, size_t no, fm_act act) {                                \
        T *x = malloc(n * ni * sizeof(T)), *W = malloc(no * ni * sizeof(T)), *b = malloc(no * sizeof(T));     \
        T *p = malloc(n * no * sizeof(T)), *dp = malloc(n * no * sizeof(T)), *dz = malloc(n * no * sizeof(T)); \
        T *dW = malloc(no * ni * sizeof(T)), *db = malloc(no * sizeof(T)), *dx = malloc(n * ni * sizeof(T));  \
        double *gw = malloc(no * ni * sizeof(double)), *rp = malloc(n * no * sizeof(double));                \
        double *rdw = malloc(no * ni * sizeof(double)), *rdb = calloc(no, sizeof(double));                   \
        double *rdx = calloc(n * ni, sizeof(double)), *got = malloc((n * ni + no * ni + n * no) * sizeof(double)); \
        size_t nc = fm_dense_pack_width##SUF(), packed = 0;                                                 \
        CHECK(fm_dense_packed_size(&packed, ni, no, nc) == FM_OK, "packed size");                             \
        T *Wp = malloc(packed * sizeof(T)), *pp = malloc(n * no * sizeof(T));                                 \
        for (size_t i = 0; i < n * ni; i++) x[i] = (T)urand();                                               \
        for (size_t i = 0; i < no * ni; i++) W[i] = (T)urand();                                              \
        for (size_t i = 0; i < no; i++) b[i] = (T)urand();                                                   \
        for (size_t i = 0; i < n * no; i++) dp[i] = (T)urand();                                              \
        CHECK(fm_dense_forward##SUF(x, W, b, p, n, ni, no, act) == FM_OK, "forward status");                 \
        for (size_t i = 0; i < n; i++)                                                                        \
            for (size_t o = 0; o < no; o++) {                                                                 \
                double z = 0;                                                                                 \
                for (size_t k = 0; k < ni; k++) z += (double)x[i * ni + k] * (double)W[o * ni + k];         \
                rp[i * no + o] = act_ref(z + (double)b[o], act);                                             \
            }                                                                                                 \
        for (size_t i = 0; i < n * no; i++) got[i] = p[i];                                                    \
        CHECK(close_to(got, rp, n * no, TOL), "forward %s n=%zu n_in=%zu n_out=%zu act=%d", #T, n, ni, no,   \
              (int)act);                                                                                      \
        CHECK(fm_dense_pack##SUF(W, Wp, ni, no, nc) == FM_OK, "pack status");                                \
        CHECK(fm_dense_forward_packed##SUF(x, Wp, b, pp, n, ni, no, nc, act) == FM_OK, "packed status");     \
        CHECK(memcmp(p, pp, n * no * sizeof(T)) == 0, "packed forward differs from forward (%s)", #T);       \
        for (size_t i = 0; i < no * ni; i++) dW[i] = (T)0.5;                                                  \
        for (size_t i = 0; i < no; i++) db[i] = (T)0.25;                                                      \
        CHECK(fm_dense_backward##SUF(x, W, p, dp, dz, dW, db, dx, n, ni, no, act, 1) == FM_OK, "bwd status"); \
        for (size_t o = 0; o < no; o++) {                                                                     \
            rdb[o] = 0.25;                                                                                    \
            for (size_t k = 0; k < ni; k++) rdw[o * ni + k] = 0.5;                                           \
        }                                                                                                     \
        for (size_t i = 0; i < n; i++)                                                                        \
            for (size_t o = 0; o < no; o++) {                                                                 \
                const double d = (double)dp[i * no + o] * dact_ref((double)p[i * no + o], act);               \
                rdb[o] += d;                                                                                  \
                for (size_t k = 0; k < ni; k++) {                                                             \
                    rdw[o * ni + k] += d * (double)x[i * ni + k];                                            \
                    rdx[i * ni + k] += d * (double)W[o * ni + k];                                            \
                }                                                                                             \
            }                                                                                                 \
        for (size_t i = 0; i < no * ni; i++) got[i] = dW[i];                                                  \
        CHECK(close_to(got, rdw, no * ni, TOL), "dW (accumulated) %s n=%zu %zu->%zu", #T, n, ni, no);       \
        for (size_t i = 0; i < no; i++) got[i] = db[i];                                                       \
        CHECK(close_to(got, rdb, no, TOL), "db %s", #T);                                                     \
        for (size_t i = 0; i < n * ni; i++) got[i] = dx[i];                                                   \
        CHECK(close_to(got, rdx, n * ni, TOL), "dx %s n=%zu %zu->%zu", #T, n, ni, no);                      \
        free(x); free(W); free(b); free(p); free(dp); free(dz); free(dW); free(db); free(dx); free(gw);     \
        free(rp); free(rdw); free(rdb); free(rdx); free(got); free(Wp); free(pp);                           \
    }
DEFINE_LAYER_TEST(float, _f32, 1e-5)
DEFINE_LAYER_TEST(double, _f64, 1e-12)

static void test_losses(void) {
    double z[6] = {0.5, -1.0, 2.0, 3.0, 0.0, -2.0}, t[6] = {1, 0, 1, 0.5, 0.25, 0}, dz[6], loss, want = 0;
    int64_t y[2] = {2, 0};
    CHECK(fm_loss_softmax_ce_f64(z, y, NULL, dz, &loss, 2, 3) == FM_OK, "softmax_ce status");
    for (int i = 0; i < 2; i++) {
        double s = 0;
        for (int j = 0; j < 3; j++) s += exp(z[i * 3 + j]);
        want += (log(s) - z[i * 3 + y[i]]) / 2;
        double gsum = 0;
        for (int j = 0; j < 3; j++) gsum += dz[i * 3 + j];
        CHECK(fabs(gsum) < 1e-15, "softmax_ce gradient rows sum to 0");
    }
    CHECK(fabs(loss - want) < 1e-14, "softmax_ce loss %.17g vs %.17g", loss, want);
    CHECK(fm_loss_mse_f64(z, t, NULL, dz, &loss, 2, 3) == FM_OK, "mse status");
    want = 0;
    for (int i = 0; i < 6; i++) want += 0.5 * (z[i] - t[i]) * (z[i] - t[i]) / 2;
    CHECK(fabs(loss - want) < 1e-14 && fabs(dz[0] - (z[0] - t[0]) / 2) < 1e-15, "mse value and gradient");
    CHECK(fm_loss_sigmoid_bce_f64(z, t, NULL, dz, &loss, 2, 3) == FM_OK, "bce status");
    want = 0;
    for (int i = 0; i < 6; i++) {
        const double s = 1 / (1 + exp(-z[i]));
        want -= (t[i] * log(s) + (1 - t[i]) * log(1 - s)) / 2;
        CHECK(fabs(dz[i] - (s - t[i]) / 2) < 1e-15, "bce gradient %d", i);
    }
    CHECK(fabs(loss - want) < 1e-14, "bce loss %.17g vs %.17g", loss, want);
    double p[6];
    CHECK(fm_softmax_f64(z, p, 2, 3) == FM_OK && fabs(p[0] + p[1] + p[2] - 1) < 1e-15, "softmax rows sum to 1");
}

static void test_updates(void) {
    double W[2] = {1.0, -2.0}, g[2] = {0.5, 0.25}, v[2] = {0, 0};
    CHECK(fm_sgd_update_f64(g, W, v, 2, 0.1, 0.9, 0.0, 0.0, 0) == FM_OK, "sgd status");
    CHECK(fm_sgd_update_f64(g, W, v, 2, 0.1, 0.9, 0.0, 0.0, 0) == FM_OK, "sgd status");
    CHECK(fabs(v[0] - 1.9 * 0.5) < 1e-15 && fabs(W[0] - (1.0 - 0.29 * 0.5)) < 1e-15, "momentum by hand");
    double A[1] = {1.0}, m[1] = {0}, s[1] = {0}, ga[1] = {0.3};
    CHECK(fm_adam_update_f64(ga, A, m, s, 1, 1, 0.01, 0.9, 0.999, 1e-8, 0, 0) == FM_OK, "adam status");
    CHECK(fabs(A[0] - (1.0 - 0.01 * 0.3 / (0.3 + 1e-8))) < 1e-14, "first Adam step is lr * sign(g)");
}

/* the mean loss of a 3-5-4-2 network at its parameters, for finite differences */
static double net_loss(const fm_mlp *net, const double *params, const double *x, const int64_t *y, size_t n,
                       void *work, size_t wb) {
    double loss = NAN;
    fm_mlp_loss_grad_f64(net, params, x, NULL, y, NULL, NULL, &loss, work, n, wb);
    return loss;
}

static void test_network(void) {
    fm_mlp net = {0};
    net.n_layers = 3;
    net.sizes[0] = 3, net.sizes[1] = 5, net.sizes[2] = 4, net.sizes[3] = 2;
    net.acts[0] = FM_ACT_TANH, net.acts[1] = FM_ACT_SIGMOID, net.acts[2] = FM_ACT_IDENTITY;
    net.loss = FM_LOSS_SOFTMAX_CE;
    size_t P = 0, bytes = 0, n = 6;
    CHECK(fm_mlp_num_params(&net, &P) == FM_OK && P == 3 * 5 + 5 + 5 * 4 + 4 + 4 * 2 + 2, "num_params %zu", P);
    CHECK(fm_mlp_workspace_size_f64(&net, &bytes, n) == FM_OK && bytes > 0, "workspace size");
    double *params = malloc(P * sizeof(double)), *grads = malloc(P * sizeof(double));
    double *numeric = malloc(P * sizeof(double)), *after = malloc(P * sizeof(double));
    void *work = malloc(bytes);
    double x[18];
    int64_t y[6] = {0, 1, 1, 0, 1, 0};
    for (size_t i = 0; i < P; i++) params[i] = urand() * 0.8;
    for (size_t i = 0; i < 18; i++) x[i] = urand();
    double loss;
    CHECK(fm_mlp_loss_grad_f64(&net, params, x, NULL, y, NULL, grads, &loss, work, n, n) == FM_OK, "loss_grad status");
    const double eps = 1e-5;
    double worst = 0, gmax = 0;
    for (size_t i = 0; i < P; i++) {
        const double old = params[i];
        params[i] = old + eps;
        const double up = net_loss(&net, params, x, y, n, work, n);
        params[i] = old - eps;
        const double down = net_loss(&net, params, x, y, n, work, n);
        params[i] = old;
        numeric[i] = (up - down) / (2 * eps);
        gmax = fabs(numeric[i]) > gmax ? fabs(numeric[i]) : gmax;
    }
    for (size_t i = 0; i < P; i++) {
        const double rel = fabs(grads[i] - numeric[i]) / (fabs(grads[i]) + fabs(numeric[i]) + 1e-8 * gmax);
        worst = rel > worst ? rel : worst;
    }
    CHECK(gmax > 1e-3, "the numeric gradient must not vanish (%g)", gmax);
    CHECK(worst < 1e-6, "finite-difference gradient check: worst relative error %.3g", worst);
    /* one SGD step moves every parameter by -lr x the numeric gradient */
    fm_optim opt = {0};
    opt.kind = FM_OPT_SGD, opt.lr = 0.1;
    memcpy(after, params, P * sizeof(double));
    CHECK(fm_mlp_train_step_f64(&net, &opt, x, NULL, y, NULL, after, NULL, grads, &loss, work, n, n, 1) == FM_OK,
          "train_step status");
    worst = 0;
    for (size_t i = 0; i < P; i++) {
        const double err = fabs((after[i] - params[i]) - (-0.1 * numeric[i]));
        worst = err > worst ? err : worst;
    }
    CHECK(worst < 1e-8 * gmax + 1e-12, "SGD step = -lr x numeric gradient (worst difference %.3g)", worst);
    /* a NaN input: the step is refused and nothing changes */
    memcpy(params, after, P * sizeof(double));
    x[4] = NAN;
    CHECK(fm_mlp_train_step_f64(&net, &opt, x, NULL, y, NULL, after, NULL, grads, &loss, work, n, n, 2) == FM_EDIVERGED,
          "NaN input diverges");
    CHECK(memcmp(params, after, P * sizeof(double)) == 0, "a refused step leaves the parameters unchanged");
    free(params), free(grads), free(numeric), free(after), free(work);
}

/* sample weights, the Poisson loss and scale_penalty: weighted losses by hand, refusals that write nothing, a
 * weight of 2 equal to a repeated row, a zero-weight batch skipped in an epoch, sklearn's alpha worked by hand */
static void test_weights(void) {
    double z[6] = {0.5, -1.0, 2.0, 3.0, 0.0, -2.0}, t[6] = {1, 0, 1, 0.5, 0.25, 0}, dz[6], loss, loss1;
    double sw[2] = {1.0, 3.0}, ones[2] = {1.0, 1.0}, dz1[6];
    int64_t y[2] = {2, 0};
    /* weights of ones give the unweighted values (to rounding) */
    CHECK(fm_loss_mse_f64(z, t, ones, dz, &loss, 2, 3) == FM_OK && fm_loss_mse_f64(z, t, NULL, dz1, &loss1, 2, 3) == FM_OK &&
          fabs(loss - loss1) < 1e-15 && fabs(dz[4] - dz1[4]) < 1e-15, "mse with unit weights");
    /* weighted mse by hand: (1 * l0 + 3 * l1) / 4 */
    double l[2] = {0, 0};
    for (int i = 0; i < 2; i++)
        for (int j = 0; j < 3; j++) l[i] += 0.5 * (z[3 * i + j] - t[3 * i + j]) * (z[3 * i + j] - t[3 * i + j]);
    CHECK(fm_loss_mse_f64(z, t, sw, dz, &loss, 2, 3) == FM_OK && fabs(loss - (l[0] + 3 * l[1]) / 4) < 1e-14 &&
          fabs(dz[3] - 0.75 * (z[3] - t[3])) < 1e-15, "weighted mse by hand");
    double lce[2];
    for (int i = 0; i < 2; i++) {
        double s = 0;
        for (int j = 0; j < 3; j++) s += exp(z[3 * i + j]);
        lce[i] = log(s) - z[3 * i + y[i]];
    }
    CHECK(fm_loss_softmax_ce_f64(z, y, sw, dz, &loss, 2, 3) == FM_OK && fabs(loss - (lce[0] + 3 * lce[1]) / 4) < 1e-14,
          "weighted softmax_ce by hand");
    CHECK(fm_loss_sigmoid_bce_f64(z, t, sw, dz, &loss, 2, 3) == FM_OK && isfinite(loss), "weighted bce");
    /* Poisson: xlogy(t, t) - t - t z + exp(z) */
    double want = 0;
    for (int i = 0; i < 6; i++) want += (t[i] > 0 ? t[i] * log(t[i]) : 0) - t[i] - t[i] * z[i] + exp(z[i]);
    CHECK(fm_loss_poisson_f64(z, t, NULL, dz, &loss, 2, 3) == FM_OK && fabs(loss - want / 2) < 1e-14 &&
          fabs(dz[2] - (exp(2.0) - 1) / 2) < 1e-14, "poisson by hand");
    /* refusals write nothing */
    double bad[2] = {1.0, -1.0}, nanw[2] = {1.0, NAN}, zero[2] = {0.0, 0.0}, tneg[6] = {1, 0, 1, 0.5, -0.25, 0};
    for (int i = 0; i < 6; i++) dz[i] = 7.0;
    loss = 7.0;
    CHECK(fm_loss_mse_f64(z, t, bad, dz, &loss, 2, 3) == FM_EVALUE && fm_loss_mse_f64(z, t, nanw, dz, &loss, 2, 3) ==
          FM_EVALUE && fm_loss_softmax_ce_f64(z, y, zero, dz, &loss, 2, 3) == FM_EVALUE &&
          fm_loss_poisson_f64(z, tneg, NULL, dz, &loss, 2, 3) == FM_EVALUE && dz[0] == 7.0 && loss == 7.0,
          "bad weights and negative Poisson targets are refused, nothing written");

    /* network: a weight of 2 on a row equals that row given twice */
    fm_mlp net = {0};
    net.n_layers = 2;
    net.sizes[0] = 3, net.sizes[1] = 4, net.sizes[2] = 2;
    net.acts[0] = FM_ACT_TANH, net.acts[1] = FM_ACT_IDENTITY;
    net.loss = FM_LOSS_POISSON;
    size_t P = 0, bytes = 0;
    fm_mlp_num_params(&net, &P);
    fm_mlp_workspace_size_f64(&net, &bytes, 4);
    double *params = malloc(P * sizeof(double)), *g1 = malloc(P * sizeof(double)), *g2 = malloc(P * sizeof(double));
    void *work = malloc(bytes);
    for (size_t i = 0; i < P; i++) params[i] = urand() * 0.5;
    double x[12], tt[8], w3[3] = {2.0, 1.0, 1.0};
    for (int i = 0; i < 12; i++) x[i] = urand();
    for (int i = 0; i < 8; i++) tt[i] = fabs(urand());
    memcpy(x + 9, x, 3 * sizeof(double)); /* row 3 = row 0 */
    memcpy(tt + 6, tt, 2 * sizeof(double));
    double lw, l4;
    CHECK(fm_mlp_loss_grad_f64(&net, params, x, tt, NULL, w3, g1, &lw, work, 3, 4) == FM_OK &&
          fm_mlp_loss_grad_f64(&net, params, x, tt, NULL, NULL, g2, &l4, work, 4, 4) == FM_OK, "weighted loss_grad");
    double worst = fabs(lw - l4);
    for (size_t i = 0; i < P; i++) worst = fabs(g1[i] - g2[i]) > worst ? fabs(g1[i] - g2[i]) : worst;
    CHECK(worst < 1e-14, "weight 2 = a repeated row (worst %.3g)", worst);
    CHECK(fm_mlp_loss_grad_f64(&net, params, x, tt, NULL, bad, g1, &lw, work, 2, 4) == FM_EVALUE &&
          fm_mlp_loss_grad_f64(&net, params, x, tneg, NULL, NULL, g1, &lw, work, 3, 4) == FM_EVALUE,
          "network refuses negative weights and Poisson targets");

    /* scale_penalty: W -= lr (g + wd W / S) on the weights, b -= lr g; the loss gains 0.5 wd |W|^2 / S */
    fm_optim opt = {0};
    opt.kind = FM_OPT_SGD, opt.lr = 0.1, opt.weight_decay = 0.3, opt.scale_penalty = 1;
    double *after = malloc(P * sizeof(double)), lstep, lplain;
    memcpy(after, params, P * sizeof(double));
    fm_mlp_loss_grad_f64(&net, params, x, tt, NULL, w3, g1, &lplain, work, 3, 4);
    CHECK(fm_mlp_train_step_f64(&net, &opt, x, tt, NULL, w3, after, NULL, g2, &lstep, work, 3, 4, 1) == FM_OK,
          "scaled step status");
    double sq = 0;
    worst = 0;
    size_t off = 0;
    for (size_t l = 0; l < 2; l++) {
        const size_t nw = net.sizes[l + 1] * net.sizes[l], nb = net.sizes[l + 1];
        for (size_t i = off; i < off + nw + nb; i++) {
            const double pen = i < off + nw ? 0.3 * params[i] / 4.0 : 0.0;
            if (i < off + nw) sq += params[i] * params[i];
            const double e = fabs(after[i] - (params[i] - 0.1 * (g1[i] + pen)));
            worst = e > worst ? e : worst;
        }
        off += nw + nb;
    }
    CHECK(worst < 1e-15 && fabs(lstep - (lplain + 0.5 * 0.3 * sq / 4.0)) < 1e-14,
          "scale_penalty step and loss by hand (worst %.3g)", worst);

    /* an epoch whose second batch has zero weight: one step, that batch adds 0 to the loss */
    double w4[4] = {1.0, 1.0, 0.0, 0.0}, mean;
    int64_t order[4] = {0, 1, 2, 3};
    uint64_t step = 0;
    memcpy(after, params, P * sizeof(double));
    opt.scale_penalty = 0;
    CHECK(fm_mlp_train_epoch_f64(&net, &opt, x, tt, NULL, w4, order, after, NULL, g2, &step, &mean, work, 4, 4, 2) ==
          FM_OK && step == 1, "zero-weight batch skipped (step %llu)", (unsigned long long)step);
    fm_mlp_loss_grad_f64(&net, params, x, tt, NULL, NULL, g1, &lplain, work, 2, 4);
    CHECK(fabs(mean - lplain * 2 / 4) < 1e-14, "epoch mean: row-count weighted, skipped batch adds 0");
    free(params), free(g1), free(g2), free(after), free(work);
}

/* the CSR first layer against the dense kernels on the densified matrix, with shuffled rows, and its refusals */
static void test_csr(void) {
    enum { R = 7, NI = 9, NO = 5, N = 6 };
    double X[R * NI] = {0}, data[R * NI], W[NO * NI], b[NO], xs[N * NI];
    int64_t indptr[R + 1], indices[R * NI], rows[N] = {3, 0, 6, 3, 2, 5};
    size_t nnz = 0;
    for (int r = 0; r < R; r++) {
        indptr[r] = (int64_t)nnz;
        for (int k = 0; k < NI; k++) {
            const int keep = r == 4 ? 1 : (r == 2 ? 0 : urand() > 0.5); /* row 4 full, row 2 empty */
            if (keep) {
                X[r * NI + k] = urand();
                data[nnz] = X[r * NI + k], indices[nnz] = k, nnz++;
            }
        }
    }
    indptr[R] = (int64_t)nnz;
    for (int i = 0; i < NO * NI; i++) W[i] = urand();
    for (int i = 0; i < NO; i++) b[i] = urand();
    for (int i = 0; i < N; i++) memcpy(xs + i * NI, X + rows[i] * NI, NI * sizeof(double));
    double p1[N * NO], p2[N * NO], dp[N * NO], dz1[N * NO], dz2[N * NO], dW1[NO * NI], dW2[NO * NI], db1[NO], db2[NO];
    double wk[NO * NI], dW3[NO * NI], db3[NO];
    for (int i = 0; i < N * NO; i++) dp[i] = urand();
    CHECK(fm_csr_dense_forward_f64(indptr, indices, data, rows, W, b, p1, wk, N, R, NI, NO, FM_ACT_TANH) == FM_OK,
          "csr forward status");
    fm_dense_forward_f64(xs, W, b, p2, N, NI, NO, FM_ACT_TANH);
    CHECK(close_to(p1, p2, N * NO, 1e-14), "csr forward = dense forward");
    CHECK(fm_csr_dense_backward_f64(indptr, indices, data, rows, p1, dp, dz1, dW1, db1, wk, N, R, NI, NO,
                                    FM_ACT_TANH, 0) == FM_OK, "csr backward status");
    fm_dense_backward_f64(xs, W, p2, dp, dz2, dW2, db2, NULL, N, NI, NO, FM_ACT_TANH, 0);
    CHECK(close_to(dW1, dW2, NO * NI, 1e-14) && close_to(db1, db2, NO, 1e-14) && close_to(dz1, dz2, N * NO, 1e-14),
          "csr backward = dense backward");
    /* accumulate adds the batch's gradient: twice the batch from zero is twice the gradient */
    for (int i = 0; i < NO * NI; i++) dW3[i] = dW1[i];
    for (int i = 0; i < NO; i++) db3[i] = db1[i];
    CHECK(fm_csr_dense_backward_f64(indptr, indices, data, rows, p1, dp, dz1, dW3, db3, wk, N, R, NI, NO,
                                    FM_ACT_TANH, 1) == FM_OK, "csr backward accumulate status");
    for (int i = 0; i < NO * NI; i++) dW2[i] *= 2.0;
    CHECK(close_to(dW3, dW2, NO * NI, 1e-14), "csr backward accumulate = 2 x gradient");
    /* the scratch: required, and apart from every other argument */
    CHECK(fm_csr_dense_forward_f64(indptr, indices, data, rows, W, b, p1, NULL, N, R, NI, NO, FM_ACT_TANH) ==
              FM_ENULL && fm_csr_dense_forward_f64(indptr, indices, data, rows, W, b, p1, W, N, R, NI, NO,
                                                   FM_ACT_TANH) == FM_EOVERLAP &&
              fm_csr_dense_backward_f64(indptr, indices, data, rows, p1, dp, dz1, dW1, db1, NULL, N, R, NI, NO,
                                        FM_ACT_TANH, 0) == FM_ENULL &&
              fm_csr_dense_backward_f64(indptr, indices, data, rows, p1, dp, dz1, dW1, db1, dW1, N, R, NI, NO,
                                        FM_ACT_TANH, 0) == FM_EOVERLAP,
          "csr scratch NULL / overlapping refused");
    /* refusals: nothing written */
    for (int i = 0; i < N * NO; i++) p1[i] = 7.0;
    int64_t badrows[N] = {3, 0, 7, 3, 2, 5};
    indices[0] += NI;
    const int rc1 = fm_csr_dense_forward_f64(indptr, indices, data, rows, W, b, p1, wk, N, R, NI, NO, FM_ACT_TANH);
    indices[0] -= NI;
    indptr[3] = indptr[4] + 1;
    const int rc2 = fm_csr_dense_forward_f64(indptr, indices, data, NULL, W, b, p1, wk, N, R, NI, NO, FM_ACT_TANH);
    indptr[3] = indptr[2];
    const int rc3 = fm_csr_dense_forward_f64(indptr, indices, data, badrows, W, b, p1, wk, N, R, NI, NO, FM_ACT_TANH);
    const int rc4 = fm_csr_dense_forward_f64(indptr, indices, data, NULL, W, b, p1, wk, R + 1, R, NI, NO, FM_ACT_TANH);
    CHECK(rc1 == FM_EVALUE && rc2 == FM_EVALUE && rc3 == FM_EVALUE && rc4 == FM_EVALUE && p1[0] == 7.0,
          "bad CSR refused, nothing written (%d %d %d %d)", rc1, rc2, rc3, rc4);
}

static void test_threads(void) {
    const size_t n = 96, ni = 256, no = 128;
    float *x = malloc(n * ni * sizeof(float)), *W = malloc(no * ni * sizeof(float));
    float *p1 = malloc(n * no * sizeof(float)), *p2 = malloc(n * no * sizeof(float));
    float *dW1 = malloc(no * ni * sizeof(float)), *dW2 = malloc(no * ni * sizeof(float));
    float *dz = malloc(n * no * sizeof(float));
    for (size_t i = 0; i < n * ni; i++) x[i] = (float)urand();
    for (size_t i = 0; i < no * ni; i++) W[i] = (float)urand();
    const int before = fm_get_num_threads();
    fm_set_num_threads(1);
    fm_dense_forward_f32(x, W, NULL, p1, n, ni, no, FM_ACT_TANH);
    fm_dense_backward_f32(x, W, p1, p1, dz, dW1, NULL, NULL, n, ni, no, FM_ACT_TANH, 0);
    fm_set_num_threads(2);
    fm_dense_forward_f32(x, W, NULL, p2, n, ni, no, FM_ACT_TANH);
    fm_dense_backward_f32(x, W, p2, p2, dz, dW2, NULL, NULL, n, ni, no, FM_ACT_TANH, 0);
    fm_set_num_threads(before);
    CHECK(memcmp(p1, p2, n * no * sizeof(float)) == 0 && memcmp(dW1, dW2, no * ni * sizeof(float)) == 0,
          "1 and 2 threads give the same bits");
    free(x), free(W), free(p1), free(p2), free(dW1), free(dW2), free(dz);
}

/* The products' per-thread scratch (dense.c): threads that run them and exit leave nothing behind (valgrind and
 * LeakSanitizer see a buffer lost at thread exit), every thread gets the same bits; in the statically linked test
 * (FM_TEST_STATIC: linked with build/libfastmlp_hooks.a, dense.c built with its test hook) a failed allocation gives FM_ENOMEM through the
 * forward, the packed forward, the backward and a network step (parameters unchanged), and the next call works. */
typedef struct {
    const float *x, *W;
    float *p, *dW, *dz;
    size_t n, ni, no;
    int rc[2];
} scratch_job;

static void *scratch_worker(void *arg) {
    scratch_job *j = arg;
    j->rc[0] = fm_dense_forward_f32(j->x, j->W, NULL, j->p, j->n, j->ni, j->no, FM_ACT_RELU);
    j->rc[1] = fm_dense_backward_f32(j->x, j->W, j->p, j->p, j->dz, j->dW, NULL, NULL, j->n, j->ni, j->no,
                                     FM_ACT_RELU, 0);
    return NULL;
}

#ifdef FM_TEST_STATIC
extern int fmi_scratch_fail; /* csrc/dense.c: the next this-many allocations of the scratch fail */

static void *scratch_fail_worker(void *arg) {
    scratch_job *j = arg;
    const size_t n = j->n, ni = j->ni, no = j->no;
    float *p = malloc(n * no * sizeof(float)), *pp = malloc(n * no * sizeof(float));
    float *dW = malloc(no * ni * sizeof(float)), *dz = malloc(n * no * sizeof(float));
    const size_t nc = fm_dense_pack_width_f32();
    size_t packed = 0;
    fm_dense_packed_size(&packed, ni, no, nc);
    float *Wp = malloc(packed * sizeof(float));
    fm_dense_pack_f32(j->W, Wp, ni, no, nc);
    fmi_scratch_fail = 1;
    j->rc[0] = fm_dense_forward_f32(j->x, j->W, NULL, p, n, ni, no, FM_ACT_RELU);
    CHECK(fmi_scratch_fail == 0, "the forward asked for scratch");
    fmi_scratch_fail = 1;
    const int rcp = fm_dense_forward_packed_f32(j->x, Wp, NULL, pp, n, ni, no, nc, FM_ACT_RELU);
    fmi_scratch_fail = 1;
    j->rc[1] = fm_dense_backward_f32(j->x, j->W, j->p, j->p, dz, dW, NULL, NULL, n, ni, no, FM_ACT_RELU, 0);
    fmi_scratch_fail = 0;
    CHECK(j->rc[0] == FM_ENOMEM && rcp == FM_ENOMEM && j->rc[1] == FM_ENOMEM,
          "no scratch: FM_ENOMEM from forward %d, packed %d, backward %d", j->rc[0], rcp, j->rc[1]);
    CHECK(!strcmp(fm_strerror(FM_ENOMEM), "out of memory (the dense products' per-thread scratch)"), "ENOMEM named");
    /* the next calls get their scratch and the bits of the main thread */
    CHECK(fm_dense_forward_f32(j->x, j->W, NULL, p, n, ni, no, FM_ACT_RELU) == FM_OK &&
              fm_dense_forward_packed_f32(j->x, Wp, NULL, pp, n, ni, no, nc, FM_ACT_RELU) == FM_OK &&
              fm_dense_backward_f32(j->x, j->W, j->p, j->p, dz, dW, NULL, NULL, n, ni, no, FM_ACT_RELU, 0) == FM_OK,
          "after a failed allocation the next calls work");
    CHECK(memcmp(p, j->p, n * no * sizeof(float)) == 0 && memcmp(pp, j->p, n * no * sizeof(float)) == 0 &&
              memcmp(dW, j->dW, no * ni * sizeof(float)) == 0 && memcmp(dz, j->dz, n * no * sizeof(float)) == 0,
          "the same bits as the main thread after a failure");
    free(p), free(pp), free(dW), free(dz), free(Wp);
    return NULL;
}

/* in a thread of its own (a fresh scratch): a network step whose products find no scratch */
static void *scratch_step_worker(void *arg) {
    scratch_job *j = arg;
    const size_t n = j->n, ni = j->ni;
    /* FM_ENOMEM, the parameters unchanged; the next step runs */
    fm_mlp net = {0};
    net.n_layers = 2, net.sizes[0] = ni, net.sizes[1] = 64, net.sizes[2] = 10;
    net.acts[0] = FM_ACT_RELU, net.acts[1] = FM_ACT_IDENTITY, net.loss = FM_LOSS_SOFTMAX_CE;
    size_t P = 0, bytes = 0;
    fm_mlp_num_params(&net, &P);
    fm_mlp_workspace_size_f32(&net, &bytes, n);
    float *params = malloc(P * sizeof(float)), *before = malloc(P * sizeof(float)), *grads = malloc(P * sizeof(float));
    void *work = malloc(bytes);
    int64_t *y = malloc(n * sizeof(int64_t));
    for (size_t i = 0; i < P; i++) params[i] = (float)(urand() * 0.1);
    for (size_t i = 0; i < n; i++) y[i] = (int64_t)(i % 10);
    memcpy(before, params, P * sizeof(float));
    fm_optim opt = {0};
    opt.kind = FM_OPT_SGD, opt.lr = 0.1;
    double loss = 0;
    fmi_scratch_fail = 1000; /* every allocation */
    const int rcs = fm_mlp_train_step_f32(&net, &opt, j->x, NULL, y, NULL, params, NULL, grads, &loss, work, n, n, 1);
    fmi_scratch_fail = 0;
    CHECK(rcs == FM_ENOMEM && memcmp(params, before, P * sizeof(float)) == 0,
          "a step without scratch: FM_ENOMEM (%d), parameters unchanged", rcs);
    CHECK(fm_mlp_train_step_f32(&net, &opt, j->x, NULL, y, NULL, params, NULL, grads, &loss, work, n, n, 1) == FM_OK &&
              memcmp(params, before, P * sizeof(float)) != 0,
          "the next step runs");
    free(params), free(before), free(grads), free(work), free(y);
    return NULL;
}
#endif

#ifdef FM_TEST_STATIC
/* a few rows against a very deep layer (gemm.inc's panel-by-panel path packs A whole only while that fits twice L2):
 * the scratch stays within what the blocked path takes (it grew to 12 MB when the test was on the unpacked size) */
static void *deep_scratch_worker(void *arg) {
    extern size_t fmi_scratch_size(void);
    (void)arg;
    const size_t deep = 131072, outs = 65, cap = (size_t)3 * 1024 * 1024 + 65536; /* FM_SCRATCH_BYTES (internal.h) */
    double *x = malloc(4 * deep * sizeof(double)), *W = malloc(outs * deep * sizeof(double));
    double *p = malloc(4 * outs * sizeof(double));
    for (size_t i = 0; i < 4 * deep; i++) x[i] = urand();
    for (size_t i = 0; i < outs * deep; i++) W[i] = urand();
    for (size_t rows = 1; rows <= 4; rows++)
        CHECK(fm_dense_forward_f64(x, W, NULL, p, rows, deep, outs, FM_ACT_IDENTITY) == FM_OK, "deep forward");
    CHECK(fmi_scratch_size() <= cap, "scratch of a few rows against a deep layer: %zu bytes", fmi_scratch_size());
    free(x), free(W), free(p);
    return NULL;
}
#endif

static void test_scratch(void) {
    const size_t n = 24, ni = 300, no = 200; /* several panels and depth blocks, below the threads' work limit */
    float *x = malloc(n * ni * sizeof(float)), *W = malloc(no * ni * sizeof(float));
    float *p = malloc(n * no * sizeof(float)), *dW = malloc(no * ni * sizeof(float)), *dz = malloc(n * no * sizeof(float));
    for (size_t i = 0; i < n * ni; i++) x[i] = (float)urand();
    for (size_t i = 0; i < no * ni; i++) W[i] = (float)urand();
    CHECK(fm_dense_forward_f32(x, W, NULL, p, n, ni, no, FM_ACT_RELU) == FM_OK &&
              fm_dense_backward_f32(x, W, p, p, dz, dW, NULL, NULL, n, ni, no, FM_ACT_RELU, 0) == FM_OK,
          "main thread products");
    enum { NT = 6 };
    scratch_job jobs[NT];
    pthread_t tid[NT];
    int started = 0;
    for (int t = 0; t < NT; t++) { /* different sizes: each thread's scratch grows from its own first call */
        const size_t rows = t % 2 ? n : n / 2;
        jobs[t] = (scratch_job){x, W, malloc(rows * no * sizeof(float)), malloc(no * ni * sizeof(float)),
                                malloc(rows * no * sizeof(float)), rows, ni, no, {1, 1}};
        started += pthread_create(&tid[t], NULL, scratch_worker, &jobs[t]) == 0;
    }
    CHECK(started == NT, "threads started");
    for (int t = 0; t < started; t++) pthread_join(tid[t], NULL);
    for (int t = 0; t < started; t++) {
        CHECK(jobs[t].rc[0] == FM_OK && jobs[t].rc[1] == FM_OK &&
                  memcmp(jobs[t].p, p, jobs[t].n * no * sizeof(float)) == 0,
              "thread %d: status and forward bits", t);
        if (jobs[t].n == n)
            CHECK(memcmp(jobs[t].dW, dW, no * ni * sizeof(float)) == 0, "thread %d: dW bits", t);
        free(jobs[t].p), free(jobs[t].dW), free(jobs[t].dz);
    }
#ifdef FM_TEST_STATIC
    {   /* a few rows against a very deep layer, on a thread of its own (its scratch starts empty) */
        pthread_t t1;
        const int threads = fm_get_num_threads();
        fm_set_num_threads(1);
        if (pthread_create(&t1, NULL, deep_scratch_worker, NULL) == 0) pthread_join(t1, NULL);
        else CHECK(0, "thread for the deep scratch test");
        fm_set_num_threads(threads);
    }
    if (strcmp(fm_cpu_path(), "naive")) { /* the plain loops of "naive" use no scratch */
        scratch_job j = {x, W, p, dW, dz, n, ni, no, {0, 0}};
        pthread_t t1;
        if (pthread_create(&t1, NULL, scratch_fail_worker, &j) == 0) pthread_join(t1, NULL);
        else CHECK(0, "thread for the failure test");
        if (pthread_create(&t1, NULL, scratch_step_worker, &j) == 0) pthread_join(t1, NULL);
        else CHECK(0, "thread for the step failure test");
    }
#endif
    free(x), free(W), free(p), free(dW), free(dz);
}

/* the environment is read once (fm_init, or the first kernel that needs it): later changes have no effect */
static void test_env_once(void) {
    size_t before[7], after[7];
    const char *path = fm_cpu_path(), *bf = fm_bf16_path();
    const int forced = getenv("FASTMLP_BLOCKS") != NULL;
    CHECK(fm_dense_blocking(0, before) == FM_OK, "blocking");
    setenv("FASTMLP_ISA", strcmp(path, "naive") ? "naive" : "avx2", 1);
    setenv("FASTMLP_BLOCKS", "8,64", 1);
    setenv("FASTMLP_BF16", "nofma", 1);
    CHECK(fm_init() == FM_OK && fm_dense_blocking(0, after) == FM_OK, "fm_init after the first kernels");
    CHECK(!strcmp(fm_cpu_path(), path) && !strcmp(fm_bf16_path(), bf) && memcmp(before, after, sizeof before) == 0,
          "a changed environment changes nothing (%s -> %s, kc %zu -> %zu)", path, fm_cpu_path(), before[3], after[3]);
    unsetenv("FASTMLP_ISA"), unsetenv("FASTMLP_BLOCKS"), unsetenv("FASTMLP_BF16");
    /* the rules behind them: this machine's values are the rules applied to it; refusals */
    size_t info[7];
    const char *name = NULL;
    CHECK(fm_dense_blocking_for(path, info, before[0], before[1], before[2], 0, 0, 0) == FM_OK &&
              (forced || memcmp(info, before, sizeof info) == 0),
          "fm_dense_blocking is the rule on this CPU");
    CHECK(fm_dense_blocking_for(NULL, info, 1, 1, 1, 0, 0, 0) == FM_ENULL &&
              fm_dense_blocking_for("avx2", NULL, 1, 1, 1, 0, 0, 0) == FM_ENULL &&
              fm_dense_blocking_for("sse9", info, 1, 1, 1, 0, 0, 0) == FM_EVALUE &&
              fm_dense_blocking_for("avx2", info, 1, 1, 1, ((size_t)1 << 20) + 1, 0, 0) == FM_EVALUE &&
              fm_dense_blocking_for("avx2", info, 1, 1, 1, 0, ((size_t)1 << 24) + 1, 1) == FM_EVALUE,
          "dense_blocking_for refusals");
    CHECK(fm_dense_blocking_for("avx2", info, 0, 0, 0, 0, 0, 1) == FM_OK && info[0] == 32768 && info[1] == 1048576 &&
              info[2] == 4194304 && info[5] == 6 && info[6] == 8 && info[3] == 168 && info[4] == 384,
          "avx2 float64 on unknown caches: kc %zu nc %zu", info[3], info[4]);
    CHECK(fm_bf16_path_for(NULL, &name, 1, 0) == FM_ENULL && fm_bf16_path_for("avx512", NULL, 1, 0) == FM_ENULL &&
              fm_bf16_path_for("avx", &name, 1, 0) == FM_EVALUE,
          "bf16_path_for refusals");
    CHECK(fm_bf16_path_for("avx512", &name, 1, 0) == FM_OK && !strcmp(name, "vdpbf16ps+fma") &&
              fm_bf16_path_for("avx512", &name, 0, 1) == FM_OK && !strcmp(name, "emulated") &&
              fm_bf16_path_for("avx2", &name, 1, 0) == FM_OK && !strcmp(name, "emulated+fma") &&
              fm_bf16_path_for("baseline", &name, 1, 0) == FM_OK && !strcmp(name, "emulated"),
          "bf16_path_for");
}

static void test_refusals(void) {
    double a[4] = {1, 2, 3, 4}, b[4] = {0}, loss;
    int64_t y[2] = {0, 5};
    CHECK(fm_dense_forward_f64(NULL, a, NULL, b, 1, 2, 2, FM_ACT_RELU) == FM_ENULL, "NULL x");
    CHECK(fm_dense_forward_f64(a, a, NULL, b, 0, 2, 2, FM_ACT_RELU) == FM_ESIZE, "zero size");
    CHECK(fm_dense_forward_f64(a, a, NULL, b, SIZE_MAX, 2, 2, FM_ACT_RELU) == FM_EOVERFLOW, "overflowing size");
    CHECK(fm_dense_forward_f64(a, a, NULL, b, 1, 2, 2, (fm_act)7) == FM_EENUM, "unknown activation");
    CHECK(fm_dense_forward_f64(a, a, NULL, a + 1, 1, 2, 2, FM_ACT_RELU) == FM_EOVERLAP, "overlapping output");
    CHECK(fm_loss_softmax_ce_f64(a, y, NULL, NULL, &loss, 2, 2) == FM_ELABEL, "label out of range");
    CHECK(fm_sgd_update_f64(b, a, NULL, 4, -1.0, 0, 0, 0, 0) == FM_EVALUE, "negative lr");
    CHECK(fm_sgd_update_f64(b, a, NULL, 4, 0.1, 0.9, 0, 0, 0) == FM_ENULL, "momentum without a velocity");
    CHECK(fm_adam_update_f64(b, a, b, b, 4, 0, 0.1, 0.9, 0.999, 1e-8, 0, 0) == FM_EVALUE, "Adam step 0");
    float f[4] = {0}, fg[4] = {0}, fv[4] = {0}, fm[4] = {0};
    CHECK(fm_sgd_update_f32(fg, f, NULL, 4, 1e300, 0, 0, 0, 0) == FM_EVALUE, "an lr that is inf in float32");
    CHECK(fm_sgd_update_f32(fg, f, fv, 4, 0.1, 0.99999999, 0, 0, 0) == FM_EVALUE, "a momentum that rounds to 1");
    CHECK(fm_adam_update_f32(fg, f, fm, fv, 4, 1, 0.1, 0.9, 0.999, 1e-50, 0, 0) == FM_EVALUE, "an eps that is 0");
    CHECK(f[0] == 0.0f, "refused updates write nothing");
    fm_mlp net = {0};
    size_t count;
    CHECK(fm_mlp_num_params(&net, &count) == FM_ESIZE, "a network with no layers");
    net.n_layers = 1, net.sizes[0] = 2, net.sizes[1] = 2, net.acts[0] = FM_ACT_RELU, net.loss = FM_LOSS_SOFTMAX_CE;
    CHECK(fm_mlp_num_params(&net, &count) == FM_EVALUE, "cross-entropy needs a linear output layer");
    CHECK(fm_dense_packed_size(&count, 3, 5, 2) == FM_OK && count == 8 * 3, "packed size of 5 outputs, panels of 2");
    CHECK(fm_dense_packed_size(&count, 3, 9, 2) == FM_OK && count == 16 * 3, "packed size past one group");
    CHECK(fm_dense_packed_size(&count, 3, 5, 0) == FM_EVALUE && fm_dense_packed_size(NULL, 3, 5, 2) == FM_ENULL &&
              fm_dense_packed_size(&count, 0, 5, 2) == FM_ESIZE, "packed size refusals");
    CHECK(fm_dense_packed_size(&count, (size_t)PTRDIFF_MAX / 64, 5, 16) == FM_EOVERFLOW, "packed size overflow");
    CHECK(strcmp(fm_strerror(FM_ELABEL), "label out of range") == 0, "fm_strerror");
    CHECK(fm_set_num_threads(0) == FM_EVALUE, "zero threads");
}

/* every required pointer of every kernel, NULL in turn: FM_ENULL and nothing written */
static void test_null_sweep(void) {
    double x[6] = {1, 2, 3, 4, 5, 6}, W[6] = {1, 0, 1, 0, 1, 0}, b[2] = {0, 0}, p[4], dp[4] = {1, 1, 1, 1};
    double dz[4], dW[6], db[2], dx[6], loss, t[4] = {0, 1, 0, 1}, v[6] = {0}, m[6] = {0};
    int64_t y[2] = {0, 1};
    const double *in2[2] = {x, W};
    for (int k = 0; k < 2; k++) {
        const double *a = k == 0 ? NULL : in2[0], *w = k == 1 ? NULL : in2[1];
        CHECK(fm_dense_forward_f64(a, w, b, p, 2, 3, 2, FM_ACT_RELU) == FM_ENULL, "forward NULL %d", k);
    }
    CHECK(fm_dense_forward_f64(x, W, b, NULL, 2, 3, 2, FM_ACT_RELU) == FM_ENULL, "forward NULL p");
    fm_dense_forward_f64(x, W, b, p, 2, 3, 2, FM_ACT_RELU);
    const double *bx[4] = {x, W, p, dp};
    double *bo[2] = {dz, dW};
    for (int k = 0; k < 6; k++) {
        const double *q[4] = {bx[0], bx[1], bx[2], bx[3]};
        double *o[2] = {bo[0], bo[1]};
        if (k < 4) q[k] = NULL;
        else o[k - 4] = NULL;
        CHECK(fm_dense_backward_f64(q[0], q[1], q[2], q[3], o[0], o[1], db, dx, 2, 3, 2, FM_ACT_RELU, 0) == FM_ENULL,
              "backward NULL %d", k);
    }
    CHECK(fm_loss_mse_f64(NULL, t, NULL, dz, &loss, 2, 2) == FM_ENULL && fm_loss_mse_f64(p, NULL, NULL, dz, &loss, 2, 2) == FM_ENULL &&
          fm_loss_mse_f64(p, t, NULL, dz, NULL, 2, 2) == FM_ENULL, "mse NULLs");
    CHECK(fm_loss_softmax_ce_f64(NULL, y, NULL, dz, &loss, 2, 2) == FM_ENULL &&
          fm_loss_softmax_ce_f64(p, NULL, NULL, dz, &loss, 2, 2) == FM_ENULL, "softmax_ce NULLs");
    CHECK(fm_loss_sigmoid_bce_f64(p, NULL, NULL, dz, &loss, 2, 2) == FM_ENULL && fm_softmax_f64(NULL, dz, 2, 2) == FM_ENULL,
          "bce and softmax NULLs");
    CHECK(fm_sgd_update_f64(dW, NULL, v, 6, 0.1, 0, 0, 0, 0) == FM_ENULL &&
          fm_sgd_update_f64(NULL, v, NULL, 6, 0.1, 0, 0, 0, 0) == FM_ENULL, "sgd NULLs");
    CHECK(fm_adam_update_f64(dW, W, NULL, v, 6, 1, 0.1, 0.9, 0.999, 1e-8, 0, 0) == FM_ENULL &&
          fm_adam_update_f64(dW, W, m, NULL, 6, 1, 0.1, 0.9, 0.999, 1e-8, 0, 0) == FM_ENULL, "adam NULLs");
    CHECK(fm_dense_pack_f64(NULL, dW, 3, 2, 8) == FM_ENULL && fm_dense_pack_f64(W, NULL, 3, 2, 8) == FM_ENULL,
          "pack NULLs");
    size_t count;
    double prm[8] = {0.1, -0.2, 0.3, 0.4, -0.5, 0.6, 0.0, 0.1}, grd[8]; /* 3 -> 2: 8 parameters */
    fm_mlp net = {0};
    net.n_layers = 1, net.sizes[0] = 3, net.sizes[1] = 2, net.acts[0] = FM_ACT_IDENTITY, net.loss = FM_LOSS_MSE;
    CHECK(fm_mlp_num_params(NULL, &count) == FM_ENULL && fm_mlp_num_params(&net, NULL) == FM_ENULL, "mlp NULLs");
    CHECK(fm_mlp_workspace_size_f64(&net, &count, SIZE_MAX) == FM_EOVERFLOW, "workspace for SIZE_MAX rows");
    char work[4096];
    CHECK(fm_mlp_forward_f64(&net, prm, x, p, work, 2, SIZE_MAX) == FM_EOVERFLOW, "forward with SIZE_MAX rows");
    CHECK(fm_mlp_forward_f64(&net, NULL, x, p, work, 2, 2) == FM_ENULL, "forward NULL params");
    fm_optim opt = {0};
    opt.kind = FM_OPT_SGD, opt.lr = 0.1;
    CHECK(fm_mlp_train_step_f64(&net, &opt, x, NULL, y, NULL, prm, NULL, grd, &loss, work, 2, 2, 1) == FM_ENULL,
          "train_step without targets");
    CHECK(fm_mlp_train_step_f64(&net, NULL, x, t, y, NULL, prm, NULL, grd, &loss, work, 2, 2, 1) == FM_ENULL,
          "train_step without options");
    uint64_t step = UINT64_MAX - 1;
    int64_t order[2] = {0, 1};
    CHECK(fm_mlp_train_epoch_f64(&net, &opt, x, t, NULL, NULL, order, prm, NULL, grd, &step, &loss, work, 2, 2, 1) ==
              FM_EVALUE, "step numbers that would wrap");
    order[1] = 7;
    step = 0;
    const int rc_order = fm_mlp_train_epoch_f64(&net, &opt, x, t, NULL, NULL, order, prm, NULL, grd, &step, &loss,
                                                work, 2, 2, 1);
    CHECK(rc_order == FM_EVALUE && step == 0, "an order index past the data, refused before any step (rc %d, %s)",
          rc_order, fm_strerror(rc_order));
}

/* issue 13: hardening round two */
static void test_hardening(void) {
    /* the thread count is bounded: past FM_MAX_THREADS libgomp exits or crashes */
    const int before = fm_get_num_threads();
    CHECK(fm_set_num_threads(FM_MAX_THREADS + 1) == FM_EVALUE && fm_set_num_threads(65536) == FM_EVALUE &&
              fm_set_num_threads(INT32_MAX) == FM_EVALUE && fm_set_num_threads(-1) == FM_EVALUE,
          "thread counts past FM_MAX_THREADS or below 1 are refused");
    CHECK(fm_get_num_threads() == before, "a refused thread count changes nothing");
    CHECK(fm_set_num_threads(FM_MAX_THREADS) == FM_OK, "FM_MAX_THREADS itself is accepted");
    if (fm_build_info() & FM_BUILD_OPENMP) CHECK(fm_get_num_threads() == FM_MAX_THREADS, "FM_MAX_THREADS in use");
    {   /* a parallel update with that many threads runs (elementwise, above the parallel threshold) */
        const size_t n = (size_t)1 << 17;
        float *W = calloc(n, sizeof(float)), *dW = calloc(n, sizeof(float));
        CHECK(W && dW && fm_sgd_update_f32(dW, W, NULL, n, 0.1, 0, 0, 0, 0) == FM_OK, "update on FM_MAX_THREADS");
        free(W), free(dW);
    }
    fm_set_num_threads(before);

    /* Adam refuses a second moment that is negative or NaN: it would turn W into NaN; nothing is written */
    for (int k = 0; k < 2; k++) {
        double W[4] = {1, 2, 3, 4}, dW[4] = {0.5, 0.5, 0.5, 0.5}, m[4] = {0}, v[4] = {0, 0.1, 0, 0};
        v[2] = k == 0 ? -1e-3 : NAN;
        CHECK(fm_adam_update_f64(dW, W, m, v, 4, 1, 0.1, 0.9, 0.999, 1e-8, 0, 0) == FM_EVALUE,
              "Adam with a %s second moment", k == 0 ? "negative" : "NaN");
        CHECK(W[0] == 1 && m[0] == 0 && v[1] == 0.1, "a refused Adam step writes nothing");
        float Wf[4] = {1, 2, 3, 4}, dWf[4] = {0.5f, 0.5f, 0.5f, 0.5f}, mf[4] = {0}, vf[4] = {0};
        vf[3] = k == 0 ? -0.0f : -1.0f; /* -0.0 is >= 0: accepted */
        CHECK(fm_adam_update_f32(dWf, Wf, mf, vf, 4, 1, 0.1, 0.9, 0.999, 1e-8, 0, 0) == (k == 0 ? FM_OK : FM_EVALUE),
              "Adam float32, v[3] = %g", (double)(k == 0 ? -0.0f : -1.0f));
    }

    /* a network past FM_MAX_PARAMS: FM_EOVERFLOW, even where each layer's product fits */
    fm_mlp net = {0};
    size_t count = 7;
    net.n_layers = 2, net.sizes[0] = (size_t)1 << 20, net.sizes[1] = (size_t)1 << 20, net.sizes[2] = 1;
    net.acts[0] = FM_ACT_RELU, net.acts[1] = FM_ACT_IDENTITY, net.loss = FM_LOSS_MSE;
    CHECK(fm_mlp_num_params(&net, &count) == FM_EOVERFLOW && count == 7, "2^40 + 2^21 parameters are refused");
    net.sizes[0] = ((size_t)1 << 20) - 3; /* 2^40 - 2^21 + 2 parameters */
    CHECK(fm_mlp_num_params(&net, &count) == FM_OK && count <= FM_MAX_PARAMS, "just under FM_MAX_PARAMS");
}

/* ---- bf16: the VDPBF16PS arithmetic restated here independently: DAZ inputs, exact product, the sum rounded to
 * 24 bits with the exponent unbounded (scaled by 2^64 so that float rounding does it), zero when that is below
 * FLT_MIN (FTZ), else the float sum. */
static float bf16_val(uint16_t h) {
    uint32_t u = ((h >> 7) & 0xff) == 0 ? (uint32_t)(h & 0x8000) << 16 : (uint32_t)h << 16;
    float f;
    memcpy(&f, &u, 4);
    return f;
}
static uint16_t bf16_of(float f) { /* round to nearest even; these tests use finite normal values or zeros */
    uint32_t u;
    memcpy(&u, &f, 4);
    if ((u & 0x7f800000u) == 0) return (uint16_t)((u >> 16) & 0x8000);
    return (uint16_t)((u + 0x7fffu + ((u >> 16) & 1u)) >> 16);
}
static float bf16_dp_step(float acc, uint16_t a, uint16_t b) {
    const double s = (double)acc + (double)bf16_val(a) * (double)bf16_val(b);
    const float scaled = (float)(s * 0x1p64);
    if (fabsf(scaled) < 0x1p-62f) return scaled < 0 || (scaled == 0 && signbit(scaled)) ? -0.0f : 0.0f;
    return (float)s;
}

static void test_bf16(void) {
    /* conversions */
    const float cv[] = {1.0f, 1.00390625f, 1.005859375f, -2.5f, 3.4e38f, 1e-40f, -1e-40f, 0.0f, -0.0f, INFINITY};
    const uint16_t want[] = {0x3f80, 0x3f80, 0x3f81, 0xc020, 0x7f80, 0x0000, 0x8000, 0x0000, 0x8000, 0x7f80};
    uint16_t got[10];
    float back[10];
    CHECK(fm_float_to_bf16(cv, got, 10) == FM_OK && memcmp(got, want, sizeof want) == 0,
          "float_to_bf16: ties to even, overflow to Inf, denormals to signed zero");
    const float qnan = NAN;
    CHECK(fm_float_to_bf16(&qnan, got, 1) == FM_OK && (got[0] & 0x7fc0) == 0x7fc0, "float_to_bf16: NaN stays NaN");
    CHECK(fm_bf16_to_float(want, back, 10) == FM_OK && back[0] == 1.0f && back[2] == 1.0078125f &&
              back[3] == -2.5f && isinf(back[4]), "bf16_to_float widens exactly");
    /* the layer against the restated arithmetic, bit for bit; some values tiny so that the flush matters */
    const size_t shapes[][3] = {{1, 1, 1}, {1, 784, 70}, {7, 15, 16}, {3, 63, 65}, {13, 300, 260}, {50, 9, 33}};
    for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++)
        for (int a = 0; a < 4; a++) {
            const size_t n = shapes[s][0], ni = shapes[s][1], no = shapes[s][2], pairs = (ni + 1) / 2;
            size_t cnt = 0;
            CHECK(fm_dense_packed_size_bf16(&cnt, ni, no) == FM_OK && cnt == (no + 15) / 16 * 16 * 2 * pairs + 32,
                  "bf16 packed size");
            float *x = malloc(n * ni * 4), *b = malloc(no * 4), *p = malloc(n * no * 4), *Wf = malloc(no * ni * 4);
            uint16_t *W = malloc(no * ni * 2), *Wp = malloc(cnt * 2), *xb = malloc(n * (ni + 1) * 2);
            /* odd shapes: some values tiny (products below FLT_MIN: the flush matters); even shapes: ordinary values
             * (where the library may use float32 FMA tiles, which must give the same bits) */
            for (size_t i = 0; i < n * ni; i++) x[i] = (float)urand() * (s % 2 && i % 17 == 3 ? 0x1p-70f : 1.0f);
            for (size_t i = 0; i < no * ni; i++) Wf[i] = (float)urand() * (s % 2 && i % 13 == 5 ? 0x1p-60f : 1.0f);
            for (size_t i = 0; i < no; i++) b[i] = (float)urand();
            CHECK(fm_float_to_bf16(Wf, W, no * ni) == FM_OK && fm_dense_pack_bf16(W, Wp, ni, no) == FM_OK, "pack");
            CHECK(fm_dense_forward_bf16(x, Wp, a % 2 ? b : NULL, p, n, ni, no, (fm_act)a) == FM_OK, "bf16 forward");
            int same = 1;
            for (size_t i = 0; i < n; i++) {
                for (size_t k = 0; k <= ni; k++) xb[i * (ni + 1) + k] = k < ni ? bf16_of(x[i * ni + k]) : 0;
                for (size_t o = 0; o < no; o++) {
                    float acc = 0.0f;
                    for (size_t q = 0; q < pairs; q++) {
                        const size_t k = 2 * q;
                        const uint16_t w1 = k + 1 < ni ? W[o * ni + k + 1] : 0;
                        acc = bf16_dp_step(acc, w1, xb[i * (ni + 1) + k + 1]);
                        acc = bf16_dp_step(acc, W[o * ni + k], xb[i * (ni + 1) + k]);
                    }
                    const float z = a % 2 ? acc + b[o] : acc;
                    const float r = a == FM_ACT_RELU ? (z > 0 ? z : 0.0f)
                                    : a == FM_ACT_IDENTITY ? z : (float)act_ref((double)z, (fm_act)a);
                    /* sigmoid/tanh: the library's double formula may differ from act_ref's in the last bit */
                    same &= a >= 2 ? fabsf(r - p[i * no + o]) <= 1e-6f * (1 + fabsf(r))
                                   : memcmp(&r, &p[i * no + o], 4) == 0;
                }
            }
            CHECK(same, "bf16 forward %zux%zu->%zu act %d equals the restated VDPBF16PS arithmetic (%s)", n, ni, no,
                  a, fm_bf16_path());
            free(x), free(b), free(p), free(Wf), free(W), free(Wp), free(xb);
        }
    /* threads */
    {
        const size_t n = 96, ni = 256, no = 128;
        size_t cnt;
        fm_dense_packed_size_bf16(&cnt, ni, no);
        float *x = malloc(n * ni * 4), *Wf = malloc(no * ni * 4), *p1 = malloc(n * no * 4), *p2 = malloc(n * no * 4);
        uint16_t *W = malloc(no * ni * 2), *Wp = malloc(cnt * 2);
        for (size_t i = 0; i < n * ni; i++) x[i] = (float)urand();
        for (size_t i = 0; i < no * ni; i++) Wf[i] = (float)urand();
        fm_float_to_bf16(Wf, W, no * ni);
        fm_dense_pack_bf16(W, Wp, ni, no);
        const int before = fm_get_num_threads();
        fm_set_num_threads(1);
        fm_dense_forward_bf16(x, Wp, NULL, p1, n, ni, no, FM_ACT_TANH);
        fm_set_num_threads(2);
        fm_dense_forward_bf16(x, Wp, NULL, p2, n, ni, no, FM_ACT_TANH);
        fm_set_num_threads(before);
        CHECK(memcmp(p1, p2, n * no * 4) == 0, "bf16: 1 and 2 threads give the same bits");
        fm_dense_forward_bf16(x + 5 * ni, Wp, NULL, p2, 1, ni, no, FM_ACT_TANH);
        CHECK(memcmp(p1 + 5 * no, p2, no * 4) == 0, "bf16: a row alone gives the bits it gets in a batch");
        free(x), free(Wf), free(p1), free(p2), free(W), free(Wp);
    }
    /* refusals: nothing written */
    float xf[4] = {1, 2, 3, 4}, pf[4] = {-1, -1, -1, -1};
    uint16_t hb[4] = {0x3f80, 0x3f80, 0x3f80, 0x3f80}, wp[96];
    size_t cnt;
    CHECK(fm_float_to_bf16(NULL, hb, 4) == FM_ENULL && fm_float_to_bf16(xf, NULL, 4) == FM_ENULL &&
              fm_float_to_bf16(xf, hb, 0) == FM_ESIZE && fm_float_to_bf16(xf, (uint16_t *)xf, 4) == FM_EOVERLAP &&
              fm_float_to_bf16(xf, hb, SIZE_MAX) == FM_EOVERFLOW, "float_to_bf16 refusals");
    CHECK(fm_bf16_to_float(NULL, xf, 4) == FM_ENULL && fm_bf16_to_float(hb, NULL, 4) == FM_ENULL &&
              fm_bf16_to_float(hb, xf, 0) == FM_ESIZE && fm_bf16_to_float((uint16_t *)xf, xf, 2) == FM_EOVERLAP,
          "bf16_to_float refusals");
    CHECK(fm_dense_packed_size_bf16(NULL, 2, 2) == FM_ENULL && fm_dense_packed_size_bf16(&cnt, 0, 2) == FM_ESIZE &&
              fm_dense_packed_size_bf16(&cnt, (size_t)PTRDIFF_MAX / 4, 20) == FM_EOVERFLOW &&
              fm_dense_packed_size_bf16(&cnt, 2, 2) == FM_OK && cnt == 32 + 32,
          "packed_size_bf16 refusals");
    CHECK(fm_dense_pack_bf16(NULL, wp, 2, 2) == FM_ENULL && fm_dense_pack_bf16(hb, NULL, 2, 2) == FM_ENULL &&
              fm_dense_pack_bf16(hb, wp, 2, 0) == FM_ESIZE && fm_dense_pack_bf16(hb, hb, 1, 1) == FM_EOVERLAP,
          "pack_bf16 refusals");
    fm_dense_pack_bf16(hb, wp, 2, 2);
    CHECK(fm_dense_forward_bf16(NULL, wp, NULL, pf, 1, 2, 2, FM_ACT_RELU) == FM_ENULL &&
              fm_dense_forward_bf16(xf, NULL, NULL, pf, 1, 2, 2, FM_ACT_RELU) == FM_ENULL &&
              fm_dense_forward_bf16(xf, wp, NULL, NULL, 1, 2, 2, FM_ACT_RELU) == FM_ENULL &&
              fm_dense_forward_bf16(xf, wp, NULL, pf, 0, 2, 2, FM_ACT_RELU) == FM_ESIZE &&
              fm_dense_forward_bf16(xf, wp, NULL, pf, SIZE_MAX, 2, 2, FM_ACT_RELU) == FM_EOVERFLOW &&
              fm_dense_forward_bf16(xf, wp, NULL, pf, 1, 2, 2, (fm_act)9) == FM_EENUM &&
              fm_dense_forward_bf16(xf, wp, NULL, xf + 1, 1, 2, 2, FM_ACT_RELU) == FM_EOVERLAP &&
              fm_dense_forward_bf16(xf, wp, xf + 2, xf + 2, 1, 2, 2, FM_ACT_RELU) == FM_EOVERLAP,
          "dense_forward_bf16 refusals");
    CHECK(pf[0] == -1 && pf[3] == -1 && xf[1] == 2, "refused bf16 calls write nothing: %g %g %g", pf[0], pf[3], xf[1]);
    CHECK(fm_dense_forward_bf16(xf, wp, NULL, pf, 1, 2, 2, FM_ACT_IDENTITY) == FM_OK && pf[0] == 3 && pf[1] == 3,
          "1*1 + 1*2 = 3");
    /* a finite x that rounds to a bf16 Inf (from 0x7f7f8000 = 3.3961e38 up, either sign) is refused, nothing written;
     * the float just below it (rounds to the largest bf16), Inf and NaN (the caller's to check) are not */
    {
        const uint32_t cases[6] = {0x7f7f8000u, 0xff7f8000u, 0x7f7fffffu, 0x7f7f7fffu, 0x7f800000u, 0x7fc00000u};
        const int want[6] = {FM_EVALUE, FM_EVALUE, FM_EVALUE, FM_OK, FM_OK, FM_OK};
        for (int c = 0; c < 6; c++) {
            float xo[2] = {1.0f, 0.0f}, po[2] = {-1.0f, -1.0f};
            memcpy(&xo[1], &cases[c], sizeof xo[1]);
            const int rc = fm_dense_forward_bf16(xo, wp, NULL, po, 1, 2, 2, FM_ACT_IDENTITY);
            CHECK(rc == want[c] && (rc == FM_OK || (po[0] == -1.0f && po[1] == -1.0f)),
                  "x bits 0x%08x: status %d (want %d), nothing written when refused", (unsigned)cases[c], rc, want[c]);
        }
    }
    CHECK(!strcmp(fm_bf16_path(), "vdpbf16ps") || !strcmp(fm_bf16_path(), "emulated") ||
              !strcmp(fm_bf16_path(), "vdpbf16ps+fma") || !strcmp(fm_bf16_path(), "emulated+fma"),
          "bf16 path named");
}

/* ---- mixed precision (bf16 products): a two-layer network against the same arithmetic restated here in double
 * (operands rounded with bf16_of, float32 accumulation only rounds the sums: bf16 tolerance), and the refusals */
static double bfr(float v) { return (double)bf16_val(bf16_of(v)); }

static void test_bf16_train(void) {
    enum { N = 5, I = 37, H = 19, O = 3 };
    fm_mlp net = {0};
    net.n_layers = 2;
    net.sizes[0] = I, net.sizes[1] = H, net.sizes[2] = O;
    net.acts[0] = FM_ACT_RELU, net.acts[1] = FM_ACT_IDENTITY;
    net.loss = FM_LOSS_SOFTMAX_CE;
    const char *path = fm_bf16_train_path();
    CHECK(!strcmp(path, "amx") || !strcmp(path, "avx512bf16") || !strcmp(path, "emulated"), "bf16_train_path %s", path);
    size_t P = 0, bytes = 0, b32 = 0;
    CHECK(fm_mlp_num_params(&net, &P) == FM_OK, "num_params");
    CHECK(fm_mlp_workspace_size_bf16(&net, &bytes, N) == FM_OK && fm_mlp_workspace_size_f32(&net, &b32, N) == FM_OK &&
              bytes > b32, "workspace_size_bf16 %zu (float32 %zu)", bytes, b32);
    float *params = malloc(P * sizeof(float)), *grads = malloc(P * sizeof(float)), x[N * I];
    void *work = malloc(bytes);
    int64_t y[N] = {0, 2, 1, 1, 0};
    for (size_t i = 0; i < P; i++) params[i] = (float)(urand() * 0.6);
    for (size_t i = 0; i < N * I; i++) x[i] = (float)urand();
    double loss = 0;
    CHECK(fm_mlp_loss_grad_bf16(&net, params, x, NULL, y, NULL, grads, &loss, work, N, N) == FM_OK, "loss_grad_bf16");
    /* the restatement: h = relu(bf(x) bf(W0)^T + b0), z = bf(h) bf(W1)^T + b1, softmax-CE; backward alike */
    const float *W0 = params, *b0 = params + H * I, *W1 = b0 + H, *b1 = W1 + O * H;
    double h[N][H], z[N][O], dz[N][O], dh[N][H], g[H * I + H + O * H + O], want = 0;
    memset(g, 0, sizeof g);
    for (int r = 0; r < N; r++) {
        for (int o = 0; o < H; o++) {
            double s = 0;
            for (int k = 0; k < I; k++) s += bfr(x[r * I + k]) * bfr(W0[o * I + k]);
            h[r][o] = (float)(s + b0[o]) > 0 ? (float)(s + b0[o]) : 0.0;
        }
        double mx = -1e300, se = 0;
        for (int o = 0; o < O; o++) {
            double s = 0;
            for (int k = 0; k < H; k++) s += bfr((float)h[r][k]) * bfr(W1[o * H + k]);
            z[r][o] = s + b1[o];
            mx = z[r][o] > mx ? z[r][o] : mx;
        }
        for (int o = 0; o < O; o++) se += exp(z[r][o] - mx);
        want += (log(se) + mx - z[r][y[r]]) / N;
        for (int o = 0; o < O; o++) dz[r][o] = (exp(z[r][o] - mx) / se - (o == y[r])) / N;
    }
    for (int r = 0; r < N; r++)
        for (int k = 0; k < H; k++) {
            double s = 0;
            for (int o = 0; o < O; o++) s += bfr((float)dz[r][o]) * bfr(W1[o * H + k]);
            dh[r][k] = h[r][k] > 0 ? s : 0.0;
        }
    for (int o = 0; o < O; o++)
        for (int r = 0; r < N; r++) {
            for (int k = 0; k < H; k++) g[H * I + H + o * H + k] += bfr((float)dz[r][o]) * bfr((float)h[r][k]);
            g[H * I + H + O * H + o] += dz[r][o];
        }
    for (int o = 0; o < H; o++)
        for (int r = 0; r < N; r++) {
            for (int k = 0; k < I; k++) g[o * I + k] += bfr((float)dh[r][o]) * bfr(x[r * I + k]);
            g[H * I + o] += dh[r][o];
        }
    double worst = 0, gmax = 0;
    for (size_t i = 0; i < P; i++) gmax = fabs(g[i]) > gmax ? fabs(g[i]) : gmax;
    for (size_t i = 0; i < P; i++) worst = fabs(grads[i] - g[i]) > worst ? fabs(grads[i] - g[i]) : worst;
    CHECK(gmax > 1e-3 && worst < 4e-3 * gmax, "bf16 gradient vs restatement: worst %.3g of %.3g", worst, gmax);
    CHECK(fabs(loss - want) < 1e-4 * (1 + want), "bf16 loss %.9g vs %.9g", loss, want);
    /* a step updates the float32 weights by -lr x that gradient */
    fm_optim opt = {0};
    opt.kind = FM_OPT_SGD, opt.lr = 0.5;
    float *after = malloc(P * sizeof(float));
    memcpy(after, params, P * sizeof(float));
    CHECK(fm_mlp_train_step_bf16(&net, &opt, x, NULL, y, NULL, after, NULL, grads, &loss, work, N, N, 1) == FM_OK,
          "train_step_bf16");
    worst = 0;
    for (size_t i = 0; i < P; i++) {
        const double err = fabs((after[i] - params[i]) + 0.5 * g[i]);
        worst = err > worst ? err : worst;
    }
    CHECK(worst < 4e-3 * gmax, "bf16 step: worst %.3g", worst);
    /* an epoch of one batch in the order 0..N-1 is that step, bit for bit */
    float *ep = malloc(P * sizeof(float));
    int64_t order[N];
    uint64_t st = 0;
    double mean = 0;
    for (int r = 0; r < N; r++) order[r] = r;
    memcpy(ep, params, P * sizeof(float));
    CHECK(fm_mlp_train_epoch_bf16(&net, &opt, x, NULL, y, NULL, order, ep, NULL, grads, &st, &mean, work, N, N, N) ==
              FM_OK && st == 1 && mean == loss && !memcmp(ep, after, P * sizeof(float)), "train_epoch_bf16");
    CHECK(fm_mlp_train_epoch_bf16(&net, &opt, NULL, NULL, y, NULL, order, ep, NULL, grads, &st, &mean, work, N, N,
                                  N) == FM_ENULL, "epoch x NULL");
    order[2] = N;
    CHECK(fm_mlp_train_epoch_bf16(&net, &opt, x, NULL, y, NULL, order, ep, NULL, grads, &st, &mean, work, N, N, N) ==
              FM_EVALUE && st == 1, "epoch order out of range");
    free(ep);
    /* refusals */
    int64_t bad[N] = {0, 3, 0, 0, 0};
    CHECK(fm_mlp_workspace_size_bf16(NULL, &bytes, N) == FM_ENULL, "ws NULL net");
    CHECK(fm_mlp_workspace_size_bf16(&net, NULL, N) == FM_ENULL, "ws NULL bytes");
    CHECK(fm_mlp_workspace_size_bf16(&net, &bytes, 0) == FM_ESIZE, "ws batch 0");
    CHECK(fm_mlp_workspace_size_bf16(&net, &bytes, SIZE_MAX / 4) == FM_EOVERFLOW, "ws overflow");
    CHECK(fm_mlp_loss_grad_bf16(&net, params, NULL, NULL, y, NULL, grads, &loss, work, N, N) == FM_ENULL, "x NULL");
    CHECK(fm_mlp_loss_grad_bf16(&net, params, x, NULL, NULL, NULL, grads, &loss, work, N, N) == FM_ENULL, "y NULL");
    CHECK(fm_mlp_loss_grad_bf16(&net, params, x, NULL, y, NULL, grads, &loss, NULL, N, N) == FM_ENULL, "work NULL");
    CHECK(fm_mlp_loss_grad_bf16(&net, params, x, NULL, y, NULL, grads, &loss, work, 0, N) == FM_ESIZE, "n 0");
    CHECK(fm_mlp_loss_grad_bf16(&net, params, x, NULL, y, NULL, grads, &loss, work, N, N - 1) == FM_ESIZE, "n > wb");
    CHECK(fm_mlp_loss_grad_bf16(&net, params, x, NULL, bad, NULL, grads, &loss, work, N, N) == FM_ELABEL, "label");
    CHECK(fm_mlp_loss_grad_bf16(&net, params, x, NULL, y, NULL, params, &loss, work, N, N) == FM_EOVERLAP, "overlap");
    CHECK(fm_mlp_train_step_bf16(&net, &opt, x, NULL, y, NULL, after, NULL, grads, &loss, work, N, N, 0) == FM_EVALUE,
          "step 0");
    CHECK(fm_mlp_train_step_bf16(&net, NULL, x, NULL, y, NULL, after, NULL, grads, &loss, work, N, N, 1) == FM_ENULL,
          "opt NULL");
    CHECK(fm_mlp_train_step_bf16(&net, &opt, NULL, NULL, y, NULL, after, NULL, grads, &loss, work, N, N, 1) ==
              FM_ENULL, "step x NULL");
    net.acts[1] = FM_ACT_RELU; /* softmax-CE needs a linear output layer */
    CHECK(fm_mlp_loss_grad_bf16(&net, params, x, NULL, y, NULL, grads, &loss, work, N, N) == FM_EVALUE, "bad net");
    free(params), free(grads), free(after), free(work);
}

#ifdef FM_TEST_STATIC
#include "internal.h"

/* the maxima each update's safe() was given, for the run with a memo [0] and the one without [1] */
static double memo_mx[2][4];
static int memo_safe_rec(int k, const double *mx) {
    memcpy(memo_mx[k], mx, sizeof memo_mx[k]);
    return isfinite(mx[0]) && isfinite(mx[1]) && isfinite(mx[2]) && isfinite(mx[3]) && mx[1] < 100.0;
}
static int memo_safe0(const fm_optim *o, const double *mx, uint64_t s) {
    (void)o, (void)s;
    return memo_safe_rec(0, mx);
}
static int memo_safe1(const fm_optim *o, const double *mx, uint64_t s) {
    (void)o, (void)s;
    return memo_safe_rec(1, mx);
}

/* fmi_update_net with a bounds memo (train_epoch's) against the same steps without: the same verdicts from the same
 * maxima, the same bits, and after every update the memo's maxima are exactly a full scan's; steps 4 (a NaN
 * gradient) and 5 (a gradient past the verdict's bound) are refused and change nothing */
#define FM_MEMO_TEST(T, SUF)                                                                                   \
    static void test_update_memo##SUF(const fm_optim *opt, size_t P, int threads) {                           \
        const int adam = opt->kind == FM_OPT_ADAM;                                                             \
        T *p[2], *s[2], *g = malloc(P * sizeof(T));                                                            \
        for (int k = 0; k < 2; k++) p[k] = malloc(P * sizeof(T)), s[k] = calloc(2 * P, sizeof(T));             \
        for (size_t i = 0; i < P; i++) p[0][i] = p[1][i] = (T)urand();                                         \
        p[0][P / 2] = p[1][P / 2] = (T)-40.0; /* the largest |W|, in the middle of a thread's share */         \
        const size_t ends[4] = {P / 3, P / 3 + 10, P - 7, P};                                                  \
        fmi_bounds_memo memo = {0, 0.0, 0.0, 0.0};                                                             \
        const int before = fm_get_num_threads();                                                               \
        fm_set_num_threads(threads);                                                                           \
        for (uint64_t step = 1; step <= 7; step++) {                                                           \
            for (size_t i = 0; i < P; i++) g[i] = (T)(urand() * (double)step);                                 \
            if (step == 4) g[P - 1] = (T)NAN;                                                                  \
            if (step == 5) g[1] = (T)500.0;                                                                    \
            const int r0 = fmi_update_net##SUF(opt, g, p[0], s[0], P, step, ends, 4, memo_safe0, &memo, -1.0); \
            const int r1 = fmi_update_net##SUF(opt, g, p[1], s[1], P, step, ends, 4, memo_safe1, NULL, -1.0); \
            CHECK(r0 == r1 && r0 == (step != 4 && step != 5), "memo P=%zu threads %d step %d: verdict %d %d",   \
                  P, threads, (int)step, r0, r1);                                                              \
            CHECK(memcmp(memo_mx[0], memo_mx[1], sizeof memo_mx[0]) == 0,                                       \
                  "memo P=%zu threads %d step %d: the maxima safe() read", P, threads, (int)step);             \
            CHECK(memcmp(p[0], p[1], P * sizeof(T)) == 0 && memcmp(s[0], s[1], 2 * P * sizeof(T)) == 0,        \
                  "memo P=%zu threads %d step %d: the same bits", P, threads, (int)step);                      \
            double mx[4];                                                                                      \
            const T *s0_ = opt->momentum != 0.0 || adam ? s[0] : NULL;                                         \
            fmi_update_bounds##SUF(p[0], g, s0_, adam ? s[0] + P : NULL, P, mx);                               \
            CHECK(memo.valid && memo.w == mx[0] && memo.s0 == mx[2] && memo.s1 == mx[3],                       \
                  "memo P=%zu threads %d step %d: the memo's maxima are a full scan's", P, threads, (int)step); \
        }                                                                                                      \
        fm_set_num_threads(before);                                                                            \
        for (int k = 0; k < 2; k++) free(p[k]), free(s[k]);                                                   \
        free(g);                                                                                               \
    }
FM_MEMO_TEST(float, _f32)
FM_MEMO_TEST(double, _f64)
#undef FM_MEMO_TEST

static void test_update_memo(void) {
    fm_optim opts[4];
    memset(opts, 0, sizeof opts);
    opts[0].kind = FM_OPT_SGD, opts[0].lr = 0.1;
    opts[1] = opts[0], opts[1].momentum = 0.9, opts[1].weight_decay = 0.01;
    opts[2] = opts[1], opts[2].nesterov = 1, opts[2].l1 = 0.001;
    opts[3].kind = FM_OPT_ADAM, opts[3].lr = 0.01, opts[3].beta1 = 0.9, opts[3].beta2 = 0.999, opts[3].eps = 1e-8;
    const size_t sizes[2] = {1000, FM_PAR_MIN_UPDATE + 77};
    for (int o = 0; o < 4; o++)
        for (int z = 0; z < 2; z++)
            for (int t = 1; t <= 2; t++) {
                test_update_memo_f32(&opts[o], sizes[z], t);
                test_update_memo_f64(&opts[o], sizes[z], t);
            }
}
#endif

int main(void) {
    const size_t shapes[][3] = {{1, 1, 1}, {1, 64, 17}, {7, 15, 16}, {16, 17, 7}, {17, 63, 5}, {3, 65, 64},
                                {65, 16, 3}, {2, 7, 65}, {13, 300, 70}, {40, 257, 33},
                                /* the few-row paths (gemm.inc rows_t, bwd_few): 4 rows, a row over partial vectors */
                                {4, 100, 96}, {1, 1030, 40},
                                /* the batch along the lanes (gemm.inc cols_t): a few rows; chunks of a larger batch
                                 * against a W past half of a 1 MiB L2 */
                                {16, 130, 50}, {100, 130, 2100}};
    for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++)
        for (int a = 0; a < 4; a++) {
            test_layer_f32(shapes[s][0], shapes[s][1], shapes[s][2], (fm_act)a);
            test_layer_f64(shapes[s][0], shapes[s][1], shapes[s][2], (fm_act)a);
        }
    test_losses();
    test_updates();
    test_network();
    test_weights();
    test_csr();
    test_threads();
    test_scratch();
    test_env_once();
    test_hardening();
    test_refusals();
    test_null_sweep();
    test_bf16();
    test_bf16_train();
#ifdef FM_TEST_STATIC
    test_update_memo();
#endif
    printf("fastmlp %s (%s, bf16 %s, OpenMP %s): %d passed, %d failed\n", fm_version(), fm_cpu_path(), fm_bf16_path(),
           (fm_build_info() & FM_BUILD_OPENMP) ? "on" : "off", passed, failed);
    return failed ? 1 : 0;
}
