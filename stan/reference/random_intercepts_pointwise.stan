// Reference (slow) formulation of stan/random_intercepts.stan: one normal term per row and
// non-centred zip intercepts sampled by NUTS. Same priors and the same posterior; used by the
// tests (posterior equality on a small data set) and benchmarks/stan_zillow.py.
data {
  int<lower=1> N;
  int<lower=0> K;
  int<lower=1> G;
  vector[N] y;
  matrix[N, K] X;
  array[N] int<lower=1, upper=G> g;
  int<lower=0, upper=1> prior_only;
}
parameters {
  real alpha;
  vector[K] beta;
  real<lower=0> sigma;
  real<lower=0> sigma_zip;
  vector[G] z_zip;                      // non-centred: a_zip = sigma_zip * z_zip
}
transformed parameters {
  vector[G] a_zip = sigma_zip * z_zip;
}
model {
  alpha ~ normal(0, 1);
  beta ~ normal(0, 1);
  sigma ~ normal(0, 1);
  sigma_zip ~ normal(0, 1);
  z_zip ~ std_normal();
  if (!prior_only) {
    y ~ normal(alpha + X * beta + a_zip[g], sigma);
  }
}
