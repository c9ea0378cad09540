/* fexp.h -- e^x as plain IEEE operations (multiplications, additions, one conversion, a bit shift; no fused
 * multiply-add under the library's -ffp-contract=off, no table, no branch), so that a loop over it vectorises and
 * every lane, the scalar remainder, every instruction-set path and every thread split give the same bits.
 *
 * For the arguments the library passes: x <= 0 (z - max z of a softmax row) or NaN. x below the normal range's
 * bound (-87.3 in float, -708 in double) gives 0 (where libm's exp would give a subnormal or 0), -inf gives 0, NaN
 * gives NaN; accurate to ~1 ulp elsewhere (Cephes' reduction: x = n ln2 + r, |r| <= ln2 / 2, ln2 in two parts;
 * float: Cephes' degree-7 expf polynomial; double: Taylor to r^13, whose remainder is below 4e-18). Valid up to
 * x = 88 (float) / 709 (double); the library never passes more. 2^n is built from t's bits, so that the
 * loop needs no float-to-integer conversion (which SSE2 and AVX2 lack for 64-bit integers). */
#ifndef FASTMLP_FEXP_H
#define FASTMLP_FEXP_H
#include <stdint.h>
#include <string.h>

static inline __attribute__((always_inline)) float fm_exp_f32(float x) {
    const float xc = x < -87.3f ? -87.3f : x; /* NaN passes */
    const float t = xc * 1.44269504088896341f + 12582912.0f; /* 1.5 * 2^23: round(x log2 e) lands in the low bits */
    const float n = t - 12582912.0f;
    const float r = (xc - n * 0.693359375f) - n * -2.12194440e-4f;
    float y = 1.9875691500e-4f;
    y = y * r + 1.3981999507e-3f;
    y = y * r + 8.3334519073e-3f;
    y = y * r + 4.1665795894e-2f;
    y = y * r + 1.6666665459e-1f;
    y = y * r + 5.0000001201e-1f;
    y = y * (r * r) + r + 1.0f;
    uint32_t tb; /* t's bits are 1.5 * 2^23's plus n: 2^n built in integers (no conversion; NaN: any scale) */
    memcpy(&tb, &t, sizeof tb);
    const uint32_t bits = (tb - 0x4B400000u + 127u) << 23;
    float scale;
    memcpy(&scale, &bits, sizeof scale);
    return x < -87.3f ? 0.0f : y * scale;
}

static inline __attribute__((always_inline)) double fm_exp_f64(double x) {
    const double xc = x < -708.0 ? -708.0 : x;
    const double t = xc * 1.4426950408889634 + 6755399441055744.0; /* 1.5 * 2^52 */
    const double n = t - 6755399441055744.0;
    const double r = (xc - n * 6.93145751953125e-1) - n * 1.42860682030941723212e-6;
    double y = 1.0 / 6227020800.0; /* 1/13! ... 1/2!, then 1 + r + ... */
    y = y * r + 1.0 / 479001600.0;
    y = y * r + 1.0 / 39916800.0;
    y = y * r + 1.0 / 3628800.0;
    y = y * r + 1.0 / 362880.0;
    y = y * r + 1.0 / 40320.0;
    y = y * r + 1.0 / 5040.0;
    y = y * r + 1.0 / 720.0;
    y = y * r + 1.0 / 120.0;
    y = y * r + 1.0 / 24.0;
    y = y * r + 1.0 / 6.0;
    y = y * r + 0.5;
    y = y * (r * r) + r + 1.0;
    uint64_t tb;
    memcpy(&tb, &t, sizeof tb);
    const uint64_t bits = (tb - 0x4338000000000000u + 1023u) << 52;
    double scale;
    memcpy(&scale, &bits, sizeof scale);
    return x < -708.0 ? 0.0 : y * scale;
}

/* the logistic sigmoid from e = e^-|z| (never overflows): 1/(1+e) for z >= 0, e/(1+e) below; NaN -> NaN */
static inline __attribute__((always_inline)) float fm_sigmoid_f32(float z) {
    const float e = fm_exp_f32(z < 0.0f ? z : -z);
    return z >= 0.0f ? 1.0f / (1.0f + e) : e / (1.0f + e);
}

static inline __attribute__((always_inline)) double fm_sigmoid_f64(double z) {
    const double e = fm_exp_f64(z < 0.0 ? z : -z);
    return z >= 0.0 ? 1.0 / (1.0 + e) : e / (1.0 + e);
}

/* tanh(x) on fm_exp (Cephes' tanhf / tanh): an odd polynomial (float) or rational function (double) below |x| =
 * 0.625, 1 - 2e/(1 + e) with e = e^-2|x| above; both computed and one selected, so that a loop vectorises. +-0 ->
 * +-0, +-inf -> +-1, NaN -> NaN; within a few ulp of tanh. */
static inline __attribute__((always_inline)) float fm_tanh_f32(float x) {
    const float a = x < 0.0f ? -x : x;
    const float z = x * x;
    float p = -5.70498872745e-3f;
    p = p * z + 2.06390887954e-2f;
    p = p * z - 5.37397155531e-2f;
    p = p * z + 1.33314422036e-1f;
    p = p * z - 3.33332819422e-1f;
    const float small = p * z * x + x;
    const float e = fm_exp_f32(-2.0f * a);
    const float big = 1.0f - (2.0f * e) / (1.0f + e);
    return a < 0.625f ? (z == 0.0f ? x : small) : (x < 0.0f ? -big : big); /* z == 0: x, its sign too */
}

static inline __attribute__((always_inline)) double fm_tanh_f64(double x) {
    const double a = x < 0.0 ? -x : x;
    const double z = x * x;
    const double num = (-9.64399179425052238628e-1 * z - 9.92877231001918586564e1) * z - 1.61468768441708447952e3;
    const double den = ((z + 1.12811678491632931402e2) * z + 2.23548839060100448583e3) * z + 4.84406305325125486048e3;
    const double small = x + x * z * (num / den);
    const double e = fm_exp_f64(-2.0 * a);
    const double big = 1.0 - (2.0 * e) / (1.0 + e);
    return a < 0.625 ? (z == 0.0 ? x : small) : (x < 0.0 ? -big : big);
}
#endif
