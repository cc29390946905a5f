// Intermediate formulation of stan/random_intercepts.stan: non-centred zip intercepts sampled by
// NUTS, likelihood from per-group sufficient statistics (O(groups * K) per evaluation instead of
// O(rows)). Same priors and posterior; benchmarks/stan_zillow.py compares it with the marginal
// formulation that stan/random_intercepts.stan uses.
data {
  int<lower=1> N;
  int<lower=0> K;
  int<lower=1> G;
  real<lower=0> yy;
  real y_sum;
  vector[K] xy;
  vector[K] x_sum;
  matrix[K, K] xx;
  vector<lower=0>[G] n_group;
  vector[G] y_group;
  matrix[G, K] x_group;
  int<lower=0, upper=1> prior_only;
}
parameters {
  real alpha;
  vector[K] beta;
  real<lower=0> sigma;
  real<lower=0> sigma_zip;
  vector[G] z_zip;
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
    // sum_i (y_i - alpha - x_i beta - a_g)^2 = sum_i r_i^2 - 2 sum_g c_g s_g + sum_g n_g c_g^2
    // with r_i = y_i - alpha - x_i beta, s_g = sum of r_i in g and c_g = a_zip[g].
    real ss = yy - 2 * alpha * y_sum - 2 * dot_product(beta, xy) + N * square(alpha)
              + 2 * alpha * dot_product(beta, x_sum) + quad_form(xx, beta);
    vector[G] s = y_group - alpha * n_group - x_group * beta;
    ss += -2 * dot_product(a_zip, s) + dot_product(n_group, square(a_zip));
    target += -N * log(sigma) - 0.5 * ss / square(sigma) - 0.5 * N * log(2 * pi());
  }
}
