// Zillow logerror: hierarchical zip-code intercepts only (the shrinkage study).
//
//   y_i ~ normal(mu + a_zip[g_i], sigma),   a_zip[g] ~ normal(0, sigma_zip)
//
// As in random_intercepts.stan the zip intercepts are integrated out analytically from per-group
// sufficient statistics (n_g, sum of y per group, total sum of squares), so NUTS samples only
// mu, sigma and sigma_zip; the intercepts are drawn exactly in generated quantities. zip_mean is
// the partial-pooling estimate of each zip's mean logerror that the shrinkage plot compares with
// the no-pooling estimate (the zip's sample mean).
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
}
data {
  int<lower=1> N;                       // training rows
  int<lower=1> G;                       // zip groups
  real<lower=0> yy;                     // sum of y^2
  real y_sum;                           // sum of y
  vector<lower=0>[G] n_group;           // rows per zip group
  vector[G] y_group;                    // per-group sum of y
  int<lower=0> N_rep;                   // rows replicated for predictive checks
  vector[N_rep] y_obs;                  // their observed y (checks only, not the likelihood)
  array[N_rep] int<lower=1, upper=G> g_rep;
  int<lower=0, upper=1> prior_only;     // 1: sample the prior (no likelihood)
}
parameters {
  real mu;                              // global mean logerror
  real<lower=0> sigma;
  real<lower=0> sigma_zip;
}
model {
  // mu ~ N(0, 1) as the tutorial's intercept; half-normal(0, 1) scales (see random_intercepts).
  mu ~ normal(0, 1);
  sigma ~ normal(0, 1);
  sigma_zip ~ normal(0, 1);
  if (!prior_only) {
    real ss = yy - 2 * mu * y_sum + N * square(mu);
    target += grouped_normal_marginal_lpdf(ss | y_group - mu * n_group, n_group, sigma, sigma_zip);
  }
}
generated quantities {
  vector[G] a_zip;
  vector[G] zip_mean;
  vector[N_rep] y_rep;
  {
    real sigma2 = square(sigma);
    real tau2 = square(sigma_zip);
    vector[G] n = prior_only ? rep_vector(0, G) : n_group;
    vector[G] s = prior_only ? rep_vector(0, G) : y_group - mu * n_group;
    vector[G] total_var = sigma2 + n * tau2;
    a_zip = to_vector(normal_rng(tau2 * s ./ total_var, sqrt(sigma2 * tau2 ./ total_var)));
  }
  zip_mean = mu + a_zip;
  // sigma as a vector of size N_rep (a size-0 draw with a real scale crashes CmdStan 2.35).
  y_rep = to_vector(normal_rng(mu + a_zip[g_rep], rep_vector(sigma, N_rep)));
}
