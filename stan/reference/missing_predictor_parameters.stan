// Reference formulation of stan/missing_predictor.stan: the imputable predictor's missing values
// are NUTS parameters x_mis ~ normal(nu, sigma_N) (the textbook way of writing missing data in
// Stan). Rows with every predictor observed enter through sufficient statistics; each row with
// x[m] missing enters with its own residual, summed per zip with a sparse (CSR) product; the zip
// intercepts are integrated out and drawn exactly in generated quantities. Same priors and
// posterior as stan/missing_predictor.stan, which integrates the missing values out as well
// (compared in tests/test_zillow_models_stan.py).
functions {
  real grouped_normal_marginal_lpdf(real ss, vector s, vector n, real sigma, real sigma_zip) {
    real sigma2 = square(sigma);
    real tau2 = square(sigma_zip);
    vector[rows(n)] total_var = sigma2 + n * tau2;
    real quad = (ss - tau2 * sum(square(s) ./ total_var)) / sigma2;
    real n_rows = sum(n);
    real log_det = (n_rows - rows(n)) * log(sigma2) + sum(log(total_var));
    return -0.5 * (n_rows * log(2 * pi()) + log_det + quad);
  }

  // Per-zip sums of the missing rows' residuals (rows sorted by zip; CSR incidence matrix).
  vector missing_group_sums(vector r, int G, vector w, array[] int v, array[] int u) {
    if (rows(r) == 0) {
      return rep_vector(0, G);
    }
    return csr_matrix_times_vector(G, rows(r), w, v, u, r);
  }
}
data {
  int<lower=1> N;                       // complete training rows
  int<lower=1> K;                       // predictors (standardized)
  int<lower=1> G;                       // zip groups
  // sufficient statistics of the complete rows
  real<lower=0> yy;
  real y_sum;
  vector[K] xy;
  vector[K] x_sum;
  matrix[K, K] xx;
  vector<lower=0>[G] n_group;
  vector[G] y_group;
  matrix[G, K] x_group;
  // the imputable predictor: column m; its observed values' count, sum and sum of squares
  int<lower=1, upper=K> m;
  int<lower=0> n_x_obs;
  real x_obs_sum;
  real<lower=0> x_obs_ss;
  // rows whose x[m] is missing, sorted by zip; X_mis has column m set to 0
  int<lower=0> N_mis;
  vector[N_mis] y_mis;
  matrix[N_mis, K] X_mis;
  array[N_mis] int<lower=1, upper=G> g_mis;
  vector[N_mis] csr_w;                  // CSR form of the zip-by-row incidence matrix
  array[N_mis] int<lower=1> csr_v;
  array[G + 1] int<lower=1> csr_u;
  // rows replicated for prior / posterior predictive checks (complete rows)
  int<lower=0> N_rep;
  vector[N_rep] y_obs;                  // their observed y (checks only, not the likelihood)
  matrix[N_rep, K] X_rep;
  array[N_rep] int<lower=1, upper=G> g_rep;
  int<lower=0, upper=1> prior_only;     // 1: sample the prior (no likelihood)
}
transformed data {
  // rows per zip with x[m] missing
  vector[G] n_mis_group = missing_group_sums(rep_vector(1, N_mis), G, csr_w, csr_v, csr_u);
}
parameters {
  real alpha;
  vector[K] beta;
  real<lower=0> sigma;
  real<lower=0> sigma_zip;
  real nu;                              // mean of the imputable predictor
  real<lower=0> sigma_N;                // its scale
  vector[N_mis] x_mis;                  // the missing values
}
model {
  // Priors as in random_intercepts.stan. The imputable predictor is standardized on its observed
  // values, so nu ~ N(0, 1) and sigma_N ~ half-normal(0, 1) cover its plausible mean and scale.
  alpha ~ normal(0, 1);
  beta ~ normal(0, 1);
  sigma ~ normal(0, 1);
  sigma_zip ~ normal(0, 1);
  nu ~ normal(0, 1);
  sigma_N ~ normal(0, 1);
  x_mis ~ normal(nu, sigma_N);
  if (!prior_only) {
    // observed values of x[m]: normal likelihood from their count, sum and sum of squares
    target += -n_x_obs * log(sigma_N)
              - 0.5 * (x_obs_ss - 2 * nu * x_obs_sum + n_x_obs * square(nu)) / square(sigma_N);
    {
      vector[N_mis] r_mis = y_mis - alpha - X_mis * beta - beta[m] * x_mis;
      real ss = yy - 2 * alpha * y_sum - 2 * dot_product(beta, xy) + N * square(alpha)
                + 2 * alpha * dot_product(beta, x_sum) + quad_form(xx, beta) + dot_self(r_mis);
      vector[G] s = y_group - alpha * n_group - x_group * beta
                    + missing_group_sums(r_mis, G, csr_w, csr_v, csr_u);
      target += grouped_normal_marginal_lpdf(ss | s, n_group + n_mis_group, sigma, sigma_zip);
    }
  }
}
generated quantities {
  vector[G] a_zip;
  vector[N_rep] y_rep;
  {
    real sigma2 = square(sigma);
    real tau2 = square(sigma_zip);
    vector[G] n = rep_vector(0, G);
    vector[G] s = rep_vector(0, G);
    if (!prior_only) {
      vector[N_mis] r_mis = y_mis - alpha - X_mis * beta - beta[m] * x_mis;
      n = n_group + n_mis_group;
      s = y_group - alpha * n_group - x_group * beta + missing_group_sums(r_mis, G, csr_w, csr_v, csr_u);
    }
    vector[G] total_var = sigma2 + n * tau2;
    a_zip = to_vector(normal_rng(tau2 * s ./ total_var, sqrt(sigma2 * tau2 ./ total_var)));
  }
  // sigma as a vector: with a scalar, normal_rng draws one value into y_rep when N_rep = 0
  // (Stan Math sizes its output by the larger argument), a segmentation fault in CmdStan 2.35
  y_rep = to_vector(normal_rng(alpha + X_rep * beta + a_zip[g_rep], rep_vector(sigma, N_rep)));
}
