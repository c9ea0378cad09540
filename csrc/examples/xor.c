/* XOR with a 2-4-1 network through fastmlp's public C header alone: sigmoid hidden units, a linear output
 * trained with sigmoid binary cross-entropy, whole epochs in one call. Build: make -C csrc example */
#include "fastmlp.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>

int main(void) {
    fm_mlp net = {0};
    net.n_layers = 2;
    net.sizes[0] = 2, net.sizes[1] = 4, net.sizes[2] = 1;
    net.acts[0] = FM_ACT_SIGMOID, net.acts[1] = FM_ACT_IDENTITY;
    net.loss = FM_LOSS_SIGMOID_BCE;

    const float X[8] = {0, 0, 0, 1, 1, 0, 1, 1}, T[4] = {0, 1, 1, 0};
    const int64_t order[4] = {0, 1, 2, 3};
    size_t P, S, bytes;
    fm_optim opt = {0};
    opt.kind = FM_OPT_ADAM, opt.lr = 0.05, opt.beta1 = 0.9, opt.beta2 = 0.999, opt.eps = 1e-8;
    if (fm_mlp_num_params(&net, &P) || fm_mlp_state_size(&net, &opt, &S) ||
        fm_mlp_workspace_size_f32(&net, &bytes, 4)) {
        fprintf(stderr, "bad network description\n");
        return 2;
    }
    float *params = malloc(P * sizeof(float)), *grads = malloc(P * sizeof(float));
    float *state = calloc(S, sizeof(float));
    void *work = malloc(bytes);
    unsigned seed = 12345;
    for (size_t i = 0; i < P; i++) { /* small deterministic random start */
        seed = seed * 1103515245u + 12345u;
        params[i] = ((float)(seed >> 16 & 0x7fff) / 32768.0f - 0.5f) * 2.0f;
    }
    uint64_t step = 0;
    double loss = 0;
    for (int epoch = 0; epoch < 2000; epoch++) {
        int rc = fm_mlp_train_epoch_f32(&net, &opt, X, T, NULL, NULL, order, params, state, grads, &step, &loss, work,
                                        4, 4, 4);
        if (rc) {
            fprintf(stderr, "epoch %d: %s\n", epoch, fm_strerror(rc));
            return 1;
        }
        if (epoch % 500 == 0) printf("epoch %4d  loss %.5f\n", epoch, loss);
    }
    float out[4];
    fm_mlp_forward_f32(&net, params, X, out, work, 4, 4);
    int correct = 0;
    for (int i = 0; i < 4; i++) {
        const double p = 1.0 / (1.0 + exp(-out[i]));
        printf("%g xor %g -> %.3f\n", X[2 * i], X[2 * i + 1], p);
        correct += (p > 0.5) == (T[i] > 0.5);
    }
    printf("final loss %.5f, %d/4 correct after %llu steps\n", loss, correct, (unsigned long long)step);
    free(params), free(grads), free(state), free(work);
    return correct == 4 ? 0 : 1;
}
