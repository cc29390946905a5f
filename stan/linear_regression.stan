// Zillow logerror: Bayesian linear regression on standardized predictors.
//
//   y_i ~ normal(alpha + x_i * beta, sigma)
//
// Exact but fast: the Gaussian log likelihood is computed from the sufficient statistics
// (y'y, X'y, X'X and the sums), so each evaluation costs O(K^2) whatever the number of rows.
// sigma is estimated by default; estimate_sigma = 0 fixes it at sigma_fixed (the tutorial
// used sigma = 1, config key zillow.fixed_sigma).
data {
  int<lower=1> N;                       // training rows
  int<lower=0> K;                       // predictors (standardized)
  real<lower=0> yy;                     // sum of y^2
  real y_sum;                           // sum of y
  vector[K] xy;                         // X' y
  vector[K] x_sum;                      // column sums of X
  matrix[K, K] xx;                      // X' X
  int<lower=0, upper=1> estimate_sigma; // 0: sigma = sigma_fixed
  real<lower=0> sigma_fixed;
  // rows replicated for prior / posterior predictive checks
  int<lower=0> N_rep;
  vector[N_rep] y_obs;                  // their observed y (checks only, not the likelihood)
  matrix[N_rep, K] X_rep;
  int<lower=0, upper=1> prior_only;     // 1: sample the prior (no likelihood)
}
parameters {
  real alpha;
  vector[K] beta;
  vector<lower=0>[estimate_sigma] sigma_free;  // empty when sigma is fixed
}
transformed parameters {
  real<lower=0> sigma = estimate_sigma ? sigma_free[1] : sigma_fixed;
}
model {
  // Priors of the tutorial: alpha, beta ~ N(0, 1) on the standardized scale; half-normal(0, 1)
  // on sigma (logerror is a log price ratio: scales above 1 are implausible).
  alpha ~ normal(0, 1);
  beta ~ normal(0, 1);
  sigma_free ~ normal(0, 1);
  if (!prior_only) {
    real ss = yy - 2 * alpha * y_sum - 2 * dot_product(beta, xy) + N * square(alpha)
              + 2 * alpha * dot_product(beta, x_sum) + quad_form(xx, beta);
    target += -N * log(sigma) - 0.5 * ss / square(sigma) - 0.5 * N * log(2 * pi());
  }
}
generated quantities {
  vector[N_rep] y_rep = to_vector(normal_rng(alpha + X_rep * beta, sigma));
}
